"""The committed sample set is valid, shows every feature it promises, and is what its generator writes."""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from store.readers import read_files  # noqa: E402
from store.records import content_hash, normalize_turn  # noqa: E402


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lines() -> list[dict]:
    return [json.loads(line) for line in (SAMPLE / "dialogs.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def labelled(lines) -> list[dict]:
    return [rec for rec in lines if "intents" in rec]


def _is_emoji(ch: str) -> bool:
    return ord(ch) >= 0x1F000 or 0x2600 <= ord(ch) <= 0x27BF


def _plausible(piece: str, label: str, generator) -> bool:
    """Is ``piece`` a value of this label? (A span shifted by even one code point is not.)"""
    patterns = {"order_id": r"(ORD-\d{5,8}|A\d{5,6}|\d{5,8})", "booking_ref": r"[A-Z2-9]{6}",
                "email": r"[a-z0-9.]+@example\.(com|org|net)"}
    if label in patterns:
        return re.fullmatch(patterns[label], piece) is not None
    return any(piece in values[label] for values in generator.VALUES.values())


def test_every_line_normalizes_and_the_reader_finds_no_problem(lines):
    for rec in lines:
        assert normalize_turn(rec)["text"] == rec["text"]
    result = read_files([SAMPLE / "dialogs.jsonl"])
    assert result.problems == []
    assert len(result.records) == len(lines)


def test_size_and_shape(lines):
    assert 300 <= len(lines) <= 400
    conversations = {rec["conversation_id"] for rec in lines}
    assert 80 <= len(conversations) <= 120
    assert len({rec["id"] for rec in lines}) == len(lines)
    assert len({content_hash(rec) for rec in lines}) == len(lines), "the importer would drop duplicates"
    assert all(rec["response"] for rec in lines)
    later = [rec for rec in lines if rec["turn_index"] > 0]
    assert later and all(rec["context"][-1]["speaker"] == "assistant" for rec in later)


def test_labelled_and_unlabelled_turns_both_exist(lines, labelled):
    share = len(labelled) / len(lines)
    assert 0.5 <= share <= 0.7, share
    unlabelled = [rec for rec in lines if "intents" not in rec]
    assert all(not normalize_turn(rec)["intents"] and normalize_turn(rec)["aligned"] is None for rec in unlabelled)


def test_misaligned_responses_and_multi_intent_turns_exist(labelled):
    misaligned = [rec for rec in labelled if rec["aligned"] is False]
    assert 0.08 <= len(misaligned) / len(labelled) <= 0.18
    assert 3 <= sum(len(rec["intents"]) > 1 for rec in labelled) <= 25
    assert {rec["sentiment"] for rec in labelled} == {"negative", "neutral", "positive"}


def test_labels_are_all_in_the_schema(labelled):
    schema = yaml.safe_load((SAMPLE / "schema.yaml").read_text(encoding="utf-8"))
    intents = {item["name"] for item in schema["intents"]}
    entities = {item["name"] for item in schema["entities"]}
    assert 12 <= len(intents) <= 20
    assert all(item["description"] for item in schema["intents"] + schema["entities"])
    assert {i for rec in labelled for i in rec["intents"]} == intents
    assert {s["label"] for rec in labelled for s in rec["entities"]} == entities
    assert {rec["sentiment"] for rec in labelled} <= set(schema["sentiments"])


def test_the_chinese_emoji_refund_turn_has_its_exact_span(lines):
    rec = next(rec for rec in lines if rec["text"].startswith("退款 🙂 订单"))
    (span,) = rec["entities"]
    assert span["label"] == "order_id"
    assert span["start"] == 7  # 退 款 ␠ 🙂 ␠ 订 单: seven code points
    assert span["end"] == len(rec["text"])
    assert _plausible(rec["text"][span["start"]:span["end"]], "order_id", _load_generator())


def test_chinese_and_emoji_turns_with_exact_spans(lines, labelled):
    chinese = [rec for rec in lines if rec["meta"]["lang"] == "zh"]
    with_emoji = [rec for rec in lines if any(_is_emoji(ch) for ch in rec["text"])]
    assert 0.07 <= len(chinese) / len(lines) <= 0.15
    assert 0.07 <= len(with_emoji) / len(lines) <= 0.15
    zh_spans = [(rec["text"], s) for rec in labelled if rec["meta"]["lang"] == "zh" for s in rec["entities"]]
    emoji_first = [(rec["text"], s) for rec in labelled for s in rec["entities"]
                   if any(_is_emoji(ch) for ch in rec["text"][:s["start"]])]
    assert len(zh_spans) >= 8 and len(emoji_first) >= 3
    generator = _load_generator()
    for text, span in zh_spans + emoji_first:
        piece = text[span["start"]:span["end"]]
        assert _plausible(piece, span["label"], generator), (text, span, piece)


def test_generator_reproduces_the_committed_file_byte_for_byte(tmp_path):
    generator = _load_generator()
    out = tmp_path / "dialogs.jsonl"
    assert generator.main(["--out", str(out)]) == 0
    assert out.read_bytes() == (SAMPLE / "dialogs.jsonl").read_bytes()


def test_render_places_spans_by_code_points():
    generator = _load_generator()
    text, spans = generator.render("👨‍👩‍👧 退款 🙂 订单{order_id}，寄到{city}", {"order_id": "12345", "city": "成都"})
    assert [text[s["start"]:s["end"]] for s in spans] == ["12345", "成都"]
    assert spans[0]["start"] == len("👨‍👩‍👧 退款 🙂 订单")
    assert [s["label"] for s in spans] == ["order_id", "city"]
    _, spans = generator.render("from {city} to {city2}", {"city": "Lisbon", "city2": "Osaka"})
    assert [s["label"] for s in spans] == ["city", "city"]


def test_every_labelled_span_holds_a_value_of_its_label(labelled):
    generator = _load_generator()
    spans = [(rec["text"], s) for rec in labelled for s in rec["entities"]]
    assert len(spans) >= 100
    bad = [(text, s) for text, s in spans if not _plausible(text[s["start"]:s["end"]], s["label"], generator)]
    assert bad == []
