"""The public-set converters return valid native records whose spans sit on their own text.

Skipped when ../shared/data (or $CONCORD_SHARED_DATA) is absent. Each check reads a whole set, but
the sets are small (the largest, GoEmotions, converts in about half a second).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import datasets  # noqa: E402
from store.records import normalize_turn  # noqa: E402

pytestmark = pytest.mark.skipif(not datasets.available(), reason="shared public data is absent")

DIALOG_SETS = ("sgd", "crosswoz")
INTENT_SETS = ("bitext", "sgd", "nlupp_banking", "nlupp_hotels", "crosswoz")
SPAN_SETS = ("bitext", "sgd", "nlupp_banking", "nlupp_hotels", "crosswoz")


@pytest.fixture(scope="module")
def converted():
    """Each set converted once for the whole module: {name: (records, report)}."""
    return {name: datasets.load_with_report(name) for name in datasets.names() if name != "nlupp"}


@pytest.mark.parametrize("name", ["bitext", "sgd", "nlupp_banking", "nlupp_hotels", "crosswoz", "goemotions"])
def test_every_record_is_a_valid_native_turn(converted, name):
    records, report = converted[name]
    assert len(records) > 500, report.summary()
    assert report.turns == len(records)
    for rec in records[:: max(1, len(records) // 400)]:
        assert normalize_turn(rec) == rec
    ids = [rec["id"] for rec in records]
    assert len(set(ids)) == len(ids), "ids must be unique within a set"


@pytest.mark.parametrize("name", SPAN_SETS)
def test_spans_sit_on_token_boundaries_of_their_text(converted, name):
    records, report = converted[name]
    spans = [(rec["text"], s) for rec in records for s in rec["entities"]]
    assert len(spans) > 100, report.summary()
    for text, span in spans:
        piece = text[span["start"]:span["end"]]
        assert piece and piece == piece.strip(), (name, text, span)
    # the skipped share is small: a converter that drops most spans would be useless for NER benchmarks
    assert report.spans_skipped < 0.1 * (report.spans + report.spans_skipped), report.summary()


def test_crosswoz_spans_are_the_act_values_in_chinese_text(converted):
    records, _ = converted["crosswoz"]
    with_spans = [rec for rec in records if rec["entities"]]
    assert with_spans
    rec = with_spans[0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in rec["text"])
    labels = {span["label"].split("-")[0] for rec in with_spans for span in rec["entities"]}
    assert labels <= {"景点", "餐馆", "酒店", "地铁", "出租"}


@pytest.mark.parametrize("name", INTENT_SETS)
def test_intent_sets_have_intents(converted, name):
    records, _ = converted[name]
    labelled = [rec for rec in records if rec["intents"]]
    # NLU++ hotels has many slot-only answers ("for 2 people") with no intent upstream (~27%)
    assert len(labelled) > 0.6 * len(records)
    if name.startswith("nlupp"):
        assert all(rec["meta"]["no_intent"] == (not rec["intents"]) for rec in records)


@pytest.mark.parametrize("name", DIALOG_SETS)
def test_dialog_sets_keep_context_and_the_following_response(converted, name):
    records, _ = converted[name]
    later = [rec for rec in records if rec["turn_index"] and rec["turn_index"] > 0]
    assert later, name
    for rec in later[:200]:
        assert len(rec["context"]) == rec["turn_index"]
        assert rec["context"][-1]["speaker"] == "assistant"
    assert sum(rec["response"] is not None for rec in records) > 0.9 * len(records)


def test_sgd_intents_are_service_qualified_or_none(converted):
    records, _ = converted["sgd"]
    intents = {i for rec in records for i in rec["intents"]}
    assert "NONE" in intents
    assert all(i == "NONE" or ":" in i for i in intents)


def test_goemotions_is_single_label_sentiment(converted):
    records, report = converted["goemotions"]
    assert {rec["sentiment"] for rec in records} == {"ambiguous", "negative", "neutral", "positive"}
    assert report.rows_skipped > 0  # multi-label rows are left out, not forced into one class


@pytest.mark.parametrize("name", ["bitext", "sgd", "crosswoz", "nlupp_hotels", "goemotions"])
def test_splits_partition_the_set(converted, name):
    records, _ = converted[name]
    train = [r for r in records if r["meta"]["split"] == "train"]
    test = [r for r in records if r["meta"]["split"] == "test"]
    assert len(train) + len(test) == len(records)
    assert 0.1 < len(test) / len(records) < 0.3
    if name in DIALOG_SETS:  # whole dialogues go to one side
        assert not {r["conversation_id"] for r in train} & {r["conversation_id"] for r in test}


def test_load_split_returns_that_part(converted):
    records, _ = converted["nlupp_hotels"]
    test = datasets.load("nlupp_hotels", split="test")
    assert [r["id"] for r in test] == [r["id"] for r in records if r["meta"]["split"] == "test"]
    assert [r["id"] for r in datasets.load("nlupp_hotels", split="dev")] == [r["id"] for r in test]


def test_group_split_is_seeded_and_independent_of_order():
    ids = [f"d{i}" for i in range(100)]
    first = datasets.split_ids(ids)
    assert datasets.split_ids(list(reversed(ids))) == first
    assert list(first.values()).count("test") == 20
    assert datasets.split_ids(ids, seed=1) != first


def test_bitext_split_is_stratified_by_intent(converted):
    test = [r for r in converted["bitext"][0] if r["meta"]["split"] == "test"]
    all_intents = {i for rec in converted["bitext"][0] for i in rec["intents"]}
    assert {i for rec in test for i in rec["intents"]} == all_intents


def test_unknown_name_and_split_are_clear_errors():
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load("snips")
    with pytest.raises(ValueError, match="split must be one of"):
        datasets.load("bitext", split="validation")


def test_checked_span_repairs_overshooting_offsets_and_skips_cut_words():
    report = datasets.ConversionReport(name="t")
    text = "cancel order 3707955617"
    assert datasets.checked_span(text, 13, 25, "order_id", report, value="3707955617") == \
        {"start": 13, "end": 23, "label": "order_id"}
    assert report.spans_repaired == 1
    assert datasets.checked_span("open anotherstandard account", 12, 20, "account_type", report,
                                 value="Standard") is None
    assert report.spans_skipped == 1
    assert datasets.checked_span("order732201349959", 5, 17, "order_id", report) is not None


def test_env_override_moves_the_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("CONCORD_SHARED_DATA", str(tmp_path / "nowhere"))
    assert not datasets.available()
    with pytest.raises(FileNotFoundError, match="CONCORD_SHARED_DATA"):
        datasets.load("sgd")
