"""Browse shows the picked turn's whole current label: an analyst relabelling one field there must see the
fields the fix keeps (entity spans, response fit, a corrected response), not only intents and sentiment.
Span offsets are code points, so a turn mixing Chinese and an emoji checks the text shown is text[start:end]."""
from __future__ import annotations

from app_testkit import texts
from store import annotations
import test_analysis_pages
from test_analysis_pages import page_as
from test_browse_page import tick

app_db = test_analysis_pages.app_db

ZH_TEXT = "退款 🙂 订单12345"            # the seeded t-zh turn; the emoji is one code point (two UTF-16 units)
SPANS = [{"start": 5, "end": 12, "label": "order_id"}, {"start": 3, "end": 4, "label": "product"}]


def test_the_picked_turn_shows_its_spans_fit_and_corrected_response(app_db):
    annotations.submit(app_db, annotation_id="zh-1", turn_id="t-zh", project="default", annotator="ann",
                       intents=["return_item"], entities=SPANS, sentiment="negative", aligned=False,
                       corrected_response="已为您退款", duration_ms=2000)
    at = page_as("browse", "ana")
    at.text_input(key="browse_search").input("退款").run()
    assert "1 turn(s) match" in texts(at)
    at = tick(at, 0)
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Turn t-zh" in shown and "Intent(s): return_item" in shown
    assert "Response fit: misaligned" in shown
    assert "已为您退款" in shown
    spans = at.dataframe[1].value
    assert list(spans.columns) == ["label", "start", "end", "text"]
    assert spans.to_dict("records") == [
        {"label": "product", "start": 3, "end": 4, "text": "🙂"},
        {"label": "order_id", "start": 5, "end": 12, "text": "订单12345"},
    ]
    assert ZH_TEXT[5:12] == "订单12345"


def test_a_turn_without_spans_or_fit_says_so(app_db):
    at = page_as("browse", "ana")
    at.text_input(key="browse_search").input("turn 7 ").run()
    at = tick(at, 0)
    shown = texts(at)
    assert "Turn x7" in shown and "Response fit: not judged" in shown and "Entity spans: none" in shown
    assert len(at.dataframe) == 1          # the results table only: no spans table for a turn without spans
