"""Resolving a turn on the Agreement page keeps the annotators' response fit and corrected response
(it used to write aligned=None and drop the correction), and the votes table is readable."""
from __future__ import annotations

import pytest

from app_testkit import open_overlap_store
from store import analysis, annotations
from test_analysis_pages import page_as, tick_queue_row
from workbench import runtime
from workbench.views.agreement import common_correction, majority_aligned, span_text, votes_table

TURN = "t-en"                                   # "where is order A123 please"
CORRECTION = "Order A123 left our warehouse this morning."


@pytest.fixture
def disputed(tmp_path, monkeypatch):
    """Two annotators both call t-en's response misaligned (one corrects it) and disagree on the intent."""
    db = open_overlap_store(tmp_path, monkeypatch)
    span = [{"start": 15, "end": 19, "label": "order_id"}]
    annotations.submit(db, annotation_id="s1", turn_id=TURN, project="default", annotator="ann",
                       intents=["track_order"], entities=span, sentiment="neutral", aligned=False,
                       corrected_response=CORRECTION)
    annotations.submit(db, annotation_id="s2", turn_id=TURN, project="default", annotator="bob",
                       intents=["cancel_order"], entities=span, sentiment="neutral", aligned=False)
    yield db
    analysis.wait_for_prewarm()
    runtime.close_stores()


def test_resolving_keeps_the_response_fit_and_the_corrected_response(disputed):
    at = tick_queue_row(page_as("agreement", "ana"), TURN)
    assert not at.exception, at.exception
    key = f"adj_{TURN}"
    assert at.radio(key=f"{key}_aligned").value == "misaligned"
    assert at.text_area(key=f"{key}_corrected").value == CORRECTION
    at.multiselect(key=f"{key}_intents").set_value(["track_order"])
    at.button(key=f"{key}_resolve").click().run()
    assert not at.exception, at.exception
    gold = [h for h in annotations.history(disputed, TURN) if h["action"] == "adjudicate"]
    assert len(gold) == 1
    assert gold[0]["aligned"] is False and gold[0]["corrected_response"] == CORRECTION
    assert gold[0]["intents"] == ["track_order"]
    assert [dict(s) for s in gold[0]["entities"]] == [{"start": 15, "end": 19, "label": "order_id"}]


def test_the_reviewer_can_change_the_fit_and_the_correction(disputed):
    at = tick_queue_row(page_as("agreement", "ana"), TURN)
    key = f"adj_{TURN}"
    at.radio(key=f"{key}_aligned").set_value("not judged")
    at.text_area(key=f"{key}_corrected").input("")
    at.multiselect(key=f"{key}_intents").set_value(["cancel_order"])     # a 1-1 tie: the reviewer chooses
    at.button(key=f"{key}_resolve").click().run()
    gold = [h for h in annotations.history(disputed, TURN) if h["action"] == "adjudicate"][-1]
    assert gold["aligned"] is None and gold["corrected_response"] is None


def test_the_votes_table_shows_spans_with_their_text_and_fit_as_words(disputed):
    at = tick_queue_row(page_as("agreement", "ana"), TURN)
    table = next(d.value for d in at.dataframe if "annotator" in d.value.columns and "entities" in d.value.columns)
    assert table["entities"].tolist() == ['order_id "A123" [15:19]'] * 2
    assert table["aligned"].tolist() == ["False", "False"]
    assert table["corrected_response"].tolist() == [CORRECTION, ""]


def test_defaults_follow_the_annotators():
    votes = [{"aligned": True}, {"aligned": None}, {"aligned": True}, {"aligned": False}]
    assert majority_aligned(votes) is True
    assert majority_aligned([{"aligned": True}, {"aligned": False}]) is False      # a tie stays out of "aligned"
    assert majority_aligned([{"aligned": None}, {}]) is None                       # nobody judged it
    assert common_correction([{"corrected_response": "b"}, {"corrected_response": " a "},
                              {"corrected_response": "a"}, {}]) == "a"
    assert common_correction([{"corrected_response": None}]) == ""
    text = "退款 🙂 订单12345"
    assert span_text(text, {"start": 5, "end": 12, "label": "order_id"}) == 'order_id "订单12345" [5:12]'
    frame = votes_table([{"annotator": "x", "intents": ["a", "b"], "entities": [], "sentiment": None,
                          "aligned": None, "corrected_response": None}], text)
    assert frame.iloc[0].to_dict() == {"annotator": "x", "intents": "a, b", "entities": "", "sentiment": "",
                                       "aligned": "", "corrected_response": ""}
