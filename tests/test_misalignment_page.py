"""The Misalignment explorer as an analyst reads it at 1440 px: the decision columns (score, fit label,
intent) come before the long text columns (they were off-screen to the right), the detail shows the
misalignment probability, the turn's intents and the conversation before it (none of which it showed),
and a corrected response is stored in place as "misaligned + correction" (the DPO pair's chosen side),
keeping the turn's other labels -- it used to need a detour through the review queue."""
from __future__ import annotations

from app_testkit import texts
from store import analysis, annotations
import test_analysis_pages
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db     # the pages' seeded fixture, shared

ORDER = {"start": 15, "end": 19, "label": "order_id"}          # "A123" in t-en's text
FORM_SUBMIT = "FormSubmitter:mis_correct_form-Store: misaligned + corrected response"


def worst_first(db, turn_id: str, score: float = 0.0) -> None:
    """``turn_id`` gets run-a's lowest alignment score, so the page opens on it."""
    db.write(lambda con: con.execute(
        "INSERT INTO predictions (run_id, turn_id, intents, intent_probs, entities, entity_scores, sentiment,"
        " sentiment_probs, alignment_score, misalignment_prob, uncertainty) VALUES ('run-a', ?, ['track_order'],"
        " '{\"track_order\": 0.9}', [], [], 'neutral', '{\"neutral\": 0.8}', ?, ?, 0.2)",
        [turn_id, score, 1 - score]))


def test_the_decision_columns_come_first_and_the_detail_shows_score_intents_and_context(app_db):
    annotations.submit(app_db, annotation_id="en1", turn_id="t-en", project="default", annotator="ann",
                       intents=["track_order"], entities=[ORDER], sentiment="neutral")
    worst_first(app_db, "t-en", 0.004)
    at = page_as("misalignment", "ana")
    assert not at.exception, at.exception
    table = at.dataframe[0]
    assert list(table.value.columns)[:6] == ["turn_id", "alignment_score", "fit_label", "intent", "text", "response"]
    assert table.value["turn_id"].iloc[0] == "t-en"
    shown = texts(at)
    assert "Misalignment probability: 0.996" in shown and "Alignment score: 0.004" in shown
    assert "Intent(s): track_order" in shown
    assert "Conversation before this turn: 2 earlier turn(s), oldest first" in shown
    context = next(d.value for d in at.dataframe if list(d.value.columns) == ["speaker", "text"])
    assert context.to_dict("records") == [{"speaker": "user", "text": "hi"},
                                          {"speaker": "assistant", "text": "Hello! How can I help?"}]


def test_a_corrected_response_is_stored_as_misaligned_keeping_the_other_labels(app_db):
    annotations.submit(app_db, annotation_id="en1", turn_id="t-en", project="default", annotator="ann",
                       intents=["track_order"], entities=[ORDER], sentiment="neutral", aligned=True)
    worst_first(app_db, "t-en")
    at = page_as("misalignment", "ana")
    at.text_area(key="mis_corrected_t-en").input("Order A123 ships tomorrow; here is the tracking link.")
    at.button(key=FORM_SUBMIT).click().run()
    assert not at.exception, at.exception
    gold = annotations.history(app_db, "t-en")[-1]
    assert gold["action"] == "adjudicate" and gold["annotator"] == "ana"
    assert gold["aligned"] is False
    assert gold["corrected_response"] == "Order A123 ships tomorrow; here is the tracking link."
    now = analysis.current_labels(app_db, "default", ["t-en"])["t-en"]
    assert now["intents"] == ["track_order"] and now["entities"] == [ORDER] and now["sentiment"] == "neutral"
    assert now["aligned"] is False and now["source"] == "adjudicated"
    assert "t-en: stored as misaligned with your corrected response" in texts(at)


def test_an_empty_correction_is_refused_and_an_unlabelled_turn_gets_a_fit_only_judgement(app_db):
    """A correction on a turn nobody labelled judges the response only: the turn stays unlabelled for
    its intent (store.effective's fit-only rule), so it is not refused."""
    worst_first(app_db, "t-emoji")
    at = page_as("misalignment", "ana")
    at.button(key=FORM_SUBMIT).click().run()
    assert "t-emoji: not stored: write the corrected response first." in texts(at)
    at.text_area(key="mis_corrected_t-emoji").input("Sorry! Your order 777 is on its way.")
    at.button(key=FORM_SUBMIT).click().run()
    assert not at.exception, at.exception
    assert [h["action"] for h in annotations.history(app_db, "t-emoji")] == ["adjudicate"]
    now = analysis.current_labels(app_db, "default", ["t-emoji"]).get("t-emoji") or {}
    assert not now.get("intents"), "no intent is invented for the turn"
