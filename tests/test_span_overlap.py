"""Overlapping entity spans: annotators label in NER mode (a label replaces what it overlaps), so a
submit with overlapping spans is refused; imported data may hold nested spans and keeps them; and
the CoNLL export, which cannot hold overlaps, names every span it had to drop in its manifest."""
from __future__ import annotations

import pytest

from app_testkit import TURNS, make_template, open_copy
from store import annotations
from store.annotations import SubmitRefused
from store.export import export_records
from store.formats import ExportOptions
from store.records import normalize_turn, overlapping_spans
from workbench import runtime

EMOJI = "😡 My plans fell through, I have to rebook PNVAFV today"
PNVAFV = EMOJI.index("PNVAFV")


@pytest.fixture
def db(tmp_path, monkeypatch):
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] != "t-sug"], users=("ann",))
    store = open_copy(template, tmp_path, monkeypatch)
    yield store
    runtime.close_stores()


def test_a_submit_with_overlapping_spans_is_refused_and_not_stored(db):
    same_chars = [{"start": 10, "end": 13, "label": "order_id"}, {"start": 10, "end": 13, "label": "product"}]
    with pytest.raises(SubmitRefused, match="overlapping spans: order_id \\[10, 13\\) and product \\[10, 13\\)"):
        annotations.submit(db, annotation_id="a1", turn_id="t-emoji", project="default", annotator="ann",
                           intents=["track_order"], entities=same_chars)
    assert annotations.history(db, "t-emoji") == []
    nested = [{"start": 3, "end": 13, "label": "product"}, {"start": 10, "end": 13, "label": "order_id"}]
    with pytest.raises(SubmitRefused, match="overlapping"):
        annotations.submit(db, annotation_id="a2", turn_id="t-emoji", project="default", annotator="ann",
                           intents=["track_order"], entities=nested)
    touching = [{"start": 3, "end": 8, "label": "product"}, {"start": 9, "end": 12, "label": "order_id"},
                {"start": 12, "end": 13, "label": "date"}]                       # adjacent, not overlapping
    assert annotations.submit(db, annotation_id="a3", turn_id="t-emoji", project="default", annotator="ann",
                              intents=["track_order"], entities=touching)


def test_imports_and_adjudications_keep_nested_spans(db):
    nested = [{"start": 0, "end": 10, "label": "product"}, {"start": 6, "end": 10, "label": "order_id"}]
    record = normalize_turn({"text": "order A123 please", "entities": nested})
    assert record["entities"] == nested
    assert annotations.adjudicate(db, annotation_id="adj", turn_id="t-en", project="default", reviewer="rev",
                                  intents=["track_order"], entities=nested)


def test_overlapping_spans_pairs_only_spans_sharing_a_code_point():
    spans = [{"start": 0, "end": 2, "label": "a"}, {"start": 2, "end": 4, "label": "b"},
             {"start": 3, "end": 6, "label": "c"}]
    assert overlapping_spans(spans) == [(spans[1], spans[2])]


def test_conll_export_reports_which_overlapping_spans_it_dropped(tmp_path):
    booking, order = ({"start": PNVAFV, "end": PNVAFV + 6, "label": name} for name in ("booking_ref", "order_id"))
    records = [
        {"id": "t-rebook", "text": EMOJI, "intents": ["change_booking"], "entities": [booking, order]},
        {"id": "t-plain", "text": "where is order A123", "intents": ["track_order"],
         "entities": [{"start": 15, "end": 19, "label": "order_id"}]},
    ]
    manifest = export_records(records, tmp_path / "out", fmt="conll", options=ExportOptions())
    counts = manifest["format_counts"]
    assert counts["overlapping_spans_dropped"] == 1
    assert counts["dropped_overlapping_spans"] == [
        {"turn_id": "t-rebook", "start": PNVAFV, "end": PNVAFV + 6, "label": "order_id", "kept": booking}]
    assert counts["spans_not_on_word_boundaries"] == 0
    written = (tmp_path / "out" / "data.conll").read_text(encoding="utf-8")
    assert "PNVAFV\tB-booking_ref" in written and "order_id" not in written.split("# id = t-plain")[0]


def test_split_conll_export_lists_the_dropped_spans_of_every_split(tmp_path):
    def record(i):
        spans = [{"start": 0, "end": 5, "label": "product"}, {"start": 0, "end": 5, "label": "date"}]
        return {"id": f"t{i}", "conversation_id": f"c{i}", "text": "hello there", "intents": ["greeting"],
                "entities": spans}
    manifest = export_records([record(i) for i in range(20)], tmp_path / "split", fmt="conll", split=True,
                              options=ExportOptions())
    dropped = manifest["format_counts"]["dropped_overlapping_spans"]
    assert manifest["format_counts"]["overlapping_spans_dropped"] == 20
    assert sorted(d["turn_id"] for d in dropped) == sorted(f"t{i}" for i in range(20))


def test_label_form_refuses_overlaps_before_submitting_and_accept_does_not_stack_spans():
    from workbench.components import label_form

    schema = {"intents": ["track_order"], "entities": ["order_id", "product"], "sentiments": []}
    values = {"intents": ["track_order"], "entities": [{"start": 0, "end": 4, "label": "order_id"},
                                                       {"start": 2, "end": 6, "label": "product"}]}
    assert any("overlap" in p for p in label_form.problems(values, schema))
    mine = [{"start": 0, "end": 4, "label": "product"}]
    suggested = [{"start": 2, "end": 6, "label": "order_id"}, {"start": 6, "end": 8, "label": "order_id"}]
    assert label_form.without_overlaps(suggested, keep=mine) == [{"start": 6, "end": 8, "label": "order_id"}]
