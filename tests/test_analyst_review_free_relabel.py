"""The analyst pages' fixes can put any label of the schema on a turn, in place: before, the only relabel
was to the model's suggestion, so a turn the model gave no intent ("(none)") or a wrong one could only be
sent to review and adjudicated later. And no fix button is drawn primary (blue): the suggestion is often
wrong, so "Relabel to the suggestion" must not look like the expected click."""
from __future__ import annotations

from app_testkit import texts
from store import analysis
import test_analysis_pages
from test_analysis_pages import page_as
from test_fixes_choice_row_key import choice_box     # the box's key is per row: found by its fixed label

app_db = test_analysis_pages.app_db      # x2, x7 labelled greeting, predicted cancel_order by run-a


def open_cell(at, given: str, predicted: str):
    at.selectbox(key="health_cm_given").set_value(given)
    at.selectbox(key="health_cm_pred").set_value(predicted)
    return at.run()


def primary_buttons(at) -> list[str]:
    return [b.key for b in at.button if b.proto.type == "primary"]


def test_a_turn_the_model_gave_no_intent_can_be_relabelled_in_place(app_db):
    app_db.write(lambda con: con.execute("UPDATE predictions SET intents = [] WHERE run_id = 'run-a' AND turn_id = 'x2'"))
    at = open_cell(page_as("health", "ana"), "greeting", analysis.NO_INTENT)
    assert not at.exception, at.exception
    assert at.button(key="health_fix_relabel").disabled                 # nothing suggested
    assert at.button(key="health_fix_relabel_chosen").disabled          # nothing chosen yet
    choice_box(at).set_value("return_item").run()
    assert "Relabel to the chosen label: intents [greeting] -> [return_item]" in texts(at)
    at.button(key="health_fix_relabel_chosen").click().run()
    assert not at.exception, at.exception
    now = analysis.current_labels(app_db, "default", ["x2"])["x2"]
    assert now["intents"] == ["return_item"] and now["source"] == "adjudicated"
    assert "x2: intent greeting -> return_item" in texts(at)


def test_the_chosen_label_replaces_a_wrong_suggestion_and_the_given_one_is_refused(app_db):
    at = page_as("label_errors", "ana")
    shown = at.dataframe[0].value["turn_id"].iloc[0]
    given = analysis.current_labels(app_db, "default", [shown])[shown]["intents"][0]
    choice_box(at).set_value(given).run()
    assert at.button(key="errors_fix_relabel_chosen").disabled
    assert "Relabel to the chosen label: off: that is the given label (Confirm keeps it)" in texts(at)
    choice_box(at).set_value("product_question").run()
    at.button(key="errors_fix_relabel_chosen").click().run()
    assert analysis.current_labels(app_db, "default", [shown])[shown]["intents"] == ["product_question"]


def test_misalignment_fit_can_be_set_either_way(app_db):
    at = page_as("misalignment", "ana")
    first = at.dataframe[0].value["turn_id"].iloc[0]
    choice_box(at).set_value(True).run()
    at.button(key="mis_fix_relabel_chosen").click().run()
    assert not at.exception, at.exception
    assert analysis.current_labels(app_db, "default", [first])[first]["aligned"] is True


def test_no_fix_button_is_primary(app_db):
    at = open_cell(page_as("health", "ana"), "greeting", "cancel_order")
    assert at.button(key="health_fix_relabel") and primary_buttons(at) == []
    at = page_as("label_errors", "ana")
    assert at.button(key="errors_fix_relabel") and primary_buttons(at) == []
