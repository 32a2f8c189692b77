"""The Agreement page's resolution form: a 1-1 tie pre-fills nothing for the tied fields (it used to
pre-fill one annotator's intents with the other's sentiment), one click adopts an annotator's whole
version, Resolve needs a ticked row (it used to act on the first row, shown untouched), and every span
any annotator marked is an explicit keep/drop decision (disputed spans used to be dropped unseen)."""
from __future__ import annotations

import pytest

from app_testkit import open_overlap_store, texts
from store import analysis, annotations
from test_analysis_pages import page_as, tick_queue_row
from workbench import runtime

TURN = "t-en"                                   # "where is order A123 please"
KEY = f"adj_{TURN}"
ORDER = {"start": 15, "end": 19, "label": "order_id"}      # "A123": both annotators
PRODUCT = {"start": 9, "end": 14, "label": "product"}      # "order": bob only


@pytest.fixture
def tied(tmp_path, monkeypatch):
    """ann and bob disagree on t-en's intents and sentiment; bob marks one span more; on t-zh each marks
    a different, overlapping order id."""
    db = open_overlap_store(tmp_path, monkeypatch)
    annotations.submit(db, annotation_id="s1", turn_id=TURN, project="default", annotator="ann",
                       intents=["track_order"], entities=[ORDER], sentiment="positive", aligned=True)
    annotations.submit(db, annotation_id="s2", turn_id=TURN, project="default", annotator="bob",
                       intents=["cancel_order"], entities=[ORDER, PRODUCT], sentiment="negative", aligned=False,
                       corrected_response="I can cancel order A123 for you.")
    annotations.submit(db, annotation_id="z1", turn_id="t-zh", project="default", annotator="ann",
                       intents=["return_item"], entities=[{"start": 5, "end": 12, "label": "order_id"}])
    annotations.submit(db, annotation_id="z2", turn_id="t-zh", project="default", annotator="bob",
                       intents=["return_item"], entities=[{"start": 7, "end": 12, "label": "order_id"}])
    yield db
    analysis.wait_for_prewarm()
    runtime.close_stores()


def span_key(key: str, span: dict) -> str:
    from workbench.views.agreement import span_key as page_span_key      # imported late: see each test fail alone

    return page_span_key(key, span)


def gold(db, turn_id: str) -> list[dict]:
    return [h for h in annotations.history(db, turn_id) if h["action"] == "adjudicate"]


def test_a_tie_prefills_nothing_and_one_click_adopts_an_annotators_version(tied):
    at = tick_queue_row(page_as("agreement", "ana"), TURN)
    assert not at.exception, at.exception
    assert at.multiselect(key=f"{KEY}_intents").value == []
    assert at.selectbox(key=f"{KEY}_sentiment").value is None
    at.button(key=f"{KEY}_resolve").click().run()          # nothing chosen: refused, with the reason
    assert not gold(tied, TURN) and "choose the resolved intents" in texts(at)
    at.selectbox(key=f"{KEY}_adopt").set_value("bob")
    at.button(key=f"{KEY}_adopt_use").click().run()
    assert not at.exception, at.exception
    assert at.multiselect(key=f"{KEY}_intents").value == ["cancel_order"]
    assert at.selectbox(key=f"{KEY}_sentiment").value == "negative"
    assert at.radio(key=f"{KEY}_aligned").value == "misaligned"
    assert at.checkbox(key=span_key(KEY, PRODUCT)).value is True
    at.button(key=f"{KEY}_resolve").click().run()
    [row] = gold(tied, TURN)
    assert row["intents"] == ["cancel_order"] and row["sentiment"] == "negative" and row["aligned"] is False
    assert row["corrected_response"] == "I can cancel order A123 for you."
    assert [dict(s) for s in row["entities"]] == [PRODUCT, ORDER]


def test_nothing_ticked_means_no_resolve_button(tied):
    at = page_as("agreement", "ana")
    assert not at.exception, at.exception
    assert "Tick a row to resolve it" in texts(at)
    assert not [b for b in at.button if b.key and b.key.endswith("_resolve")]
    tick_queue_row(at, TURN)
    assert [b.key for b in at.button if b.key and b.key.endswith("_resolve")] == [f"{KEY}_resolve"]


def test_the_span_decision_is_explicit_and_stored_as_checked(tied):
    at = tick_queue_row(page_as("agreement", "ana"), TURN)
    assert 'product "order" [9:14]  marked by bob (1 of 2)' in texts(at)
    assert at.checkbox(key=span_key(KEY, ORDER)).value is True            # both marked it
    assert at.checkbox(key=span_key(KEY, PRODUCT)).value is False         # disputed: shown, unchecked
    at.checkbox(key=span_key(KEY, PRODUCT)).check()
    at.checkbox(key=span_key(KEY, ORDER)).uncheck()
    at.multiselect(key=f"{KEY}_intents").set_value(["track_order"])
    at.selectbox(key=f"{KEY}_sentiment").set_value("neutral")
    at.button(key=f"{KEY}_resolve").click().run()
    assert not at.exception, at.exception
    [row] = gold(tied, TURN)
    assert [dict(s) for s in row["entities"]] == [PRODUCT]


def test_overlapping_kept_spans_are_refused(tied):
    at = tick_queue_row(page_as("agreement", "ana"), "t-zh")
    key = "adj_t-zh"
    assert 'order_id "订单12345" [5:12]  marked by ann (1 of 2)' in texts(at)     # code points
    for span in ({"start": 5, "end": 12, "label": "order_id"}, {"start": 7, "end": 12, "label": "order_id"}):
        at.checkbox(key=span_key(key, span)).check()
    at.selectbox(key=f"{key}_sentiment").set_value("(no sentiment)")
    at.button(key=f"{key}_resolve").click().run()
    assert not at.exception, at.exception
    assert not gold(tied, "t-zh")
    assert "kept spans overlap" in texts(at)
    at.checkbox(key=span_key(key, {"start": 7, "end": 12, "label": "order_id"})).uncheck()
    at.button(key=f"{key}_resolve").click().run()
    [row] = gold(tied, "t-zh")
    assert [dict(s) for s in row["entities"]] == [{"start": 5, "end": 12, "label": "order_id"}]
    assert row["intents"] == ["return_item"] and row["sentiment"] is None


def test_the_form_draws_without_streamlit_warnings_after_adopting(tied):
    """Pre-fills go through session state (not widget defaults), so adopting a version draws no
    "default value but also set via the Session State API" warning."""
    at = tick_queue_row(page_as("agreement", "ana"), TURN)
    at.button(key=f"{KEY}_adopt_use").click().run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.multiselect(key=f"{KEY}_intents").value == ["track_order"]    # ann: the first annotator listed
