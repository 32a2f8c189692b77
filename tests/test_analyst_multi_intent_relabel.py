"""The free relabel ("Relabel to a label you choose") on a turn with several intents replaces only the intent
the row is about and keeps the others, and the lines under the buttons say which intent goes and which stay.
An out-of-fold audit row of a multi-label project gives the turn's whole intent set as "given" (and the
model's set as "suggested"): the chosen label was refused there ("the turn no longer has intent [...]"), so
the only relabel left was the model's whole set. Single-intent turns behave as before."""
from __future__ import annotations

import time

from app_testkit import texts
from store import analysis, audits
import test_analysis_multilabel
from test_analysis_pages import page_as
from test_fixes_choice_row_key import choice_box

ml_db = test_analysis_multilabel.ml_db     # m1: track_order + product_question; the run suggests cancel_order


def record_audit(db, rows: list[dict]) -> None:
    audits.record_audit(db, "default", audit_id="aud-ml", state="done", n_labelled=6, started_at=time.time(),
                        version=audits.version_key(db, "default"), rows=rows)


def audit_page(db, rows: list[dict]):
    record_audit(db, rows)
    at = page_as("label_errors", "ana")
    at.radio(key="errors_source").set_value("audit").run()
    assert not at.exception, at.exception
    return at


def test_an_audit_row_of_a_two_intent_turn_relabels_only_the_disputed_intent(ml_db):
    at = audit_page(ml_db, [{"id": "m1", "field": "intent", "given": ["product_question", "track_order"],
                             "suggested": ["cancel_order", "product_question"], "score": 0.9}])
    assert "(replaces track_order; keeps product_question)" in texts(at)       # said before a label is chosen
    choice_box(at).set_value("return_item").run()
    assert ("Relabel to the chosen label: intents [track_order, product_question] -> [return_item, product_question]"
            " (replaces track_order; keeps product_question)") in texts(at)
    at.button(key="errors_fix_relabel_chosen").click().run()
    assert not at.exception, at.exception
    now = analysis.current_labels(ml_db, "default", ["m1"])["m1"]
    assert now["intents"] == ["return_item", "product_question"] and now["source"] == "adjudicated"


def test_an_audit_row_of_a_one_intent_turn_relabels_its_intent(ml_db):
    at = audit_page(ml_db, [{"id": "m5", "field": "intent", "given": ["track_order"],
                             "suggested": ["cancel_order"], "score": 0.9}])
    choice_box(at).set_value("return_item").run()
    assert "Relabel to the chosen label: intents [track_order] -> [return_item]" in texts(at)
    at.button(key="errors_fix_relabel_chosen").click().run()
    assert analysis.current_labels(ml_db, "default", ["m5"])["m5"]["intents"] == ["return_item"]


def test_a_run_row_says_which_intents_the_turn_keeps(ml_db):
    at = page_as("label_errors", "ana")                       # m1: given track_order, suggested cancel_order
    assert ("Relabel to the suggestion: intents [track_order, product_question] -> [cancel_order, product_question]"
            " (replaces track_order; keeps product_question)") in texts(at)
    choice_box(at).set_value("greeting").run()
    assert ("Relabel to the chosen label: intents [track_order, product_question] -> [greeting, product_question]"
            " (replaces track_order; keeps product_question)") in texts(at)
    at.button(key="errors_fix_relabel_chosen").click().run()
    assert analysis.current_labels(ml_db, "default", ["m1"])["m1"]["intents"] == ["greeting", "product_question"]


def test_an_audit_row_disputing_several_intents_names_no_single_one():
    from workbench.components.fixes import replaced_intent

    assert replaced_intent("intent", ["a", "b"], ["c"]) is None                 # which of a, b? none is guessed
    assert replaced_intent("intent", ["a", "b"], ["a", "b", "c"]) is None       # the audit only adds c
    assert replaced_intent("intent", ["a", "b"], ["a", "c"]) == "b"
    assert replaced_intent("intent", "a", "c") == "a"                           # a run's row names its intent
