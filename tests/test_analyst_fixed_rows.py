"""Label errors: a turn the analyst has just relabelled or confirmed leaves the to-do list. The list is
computed from the labels the run (or the audit) read, so a fixed turn stayed on top until the next run,
looking unfixed (a confirmed one unchanged, a relabelled one with its new label still "disputed"). Rows
whose turn has an adjudication newer than the run's snapshot are now hidden with a count, and a checkbox
shows them with a 'fixed' column."""
from __future__ import annotations

import time

from app_testkit import texts
from store import analysis, annotations, audits
import test_analysis_pages
from test_analysis_pages import page_as
from test_fixes_choice_row_key import choice_box

app_db = test_analysis_pages.app_db      # label errors lists x2 and x7: given greeting, run-a suggests cancel_order

FIXED_LINE = "fixed since this run (relabelled or confirmed after it): hidden from the list"


def listed(at) -> list[str]:
    return at.dataframe[0].value["turn_id"].tolist()


def test_a_confirmed_then_a_relabelled_turn_leave_the_list(app_db):
    at = page_as("label_errors", "ana")
    first, second = listed(at)                 # annotators' labels newer than the run do not count as fixes
    at.button(key="errors_fix_confirm").click().run()
    assert not at.exception, at.exception
    assert listed(at) == [second] and f"1 {FIXED_LINE}" in texts(at)
    assert "1 candidate(s), most likely error first" in texts(at)
    choice_box(at).set_value("product_question").run()
    at.button(key="errors_fix_relabel_chosen").click().run()
    assert not at.exception, at.exception
    assert analysis.current_labels(app_db, "default", [second])[second]["intents"] == ["product_question"]
    assert f"2 {FIXED_LINE}" in texts(at) and "No turns here." in texts(at)


def test_the_checkbox_shows_the_fixed_rows_with_a_fixed_column(app_db):
    at = page_as("label_errors", "ana")
    first, second = listed(at)
    at.button(key="errors_fix_confirm").click().run()
    at.checkbox(key="errors_run_intent_show_fixed").check().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["turn_id"], table["fixed"])) == {first: True, second: False}
    assert "1 fixed since this run (relabelled or confirmed after it): ticked in the 'fixed' column" in texts(at)


def test_sending_to_review_is_no_fix(app_db):
    at = page_as("label_errors", "ana")
    before = listed(at)
    at.button(key="errors_fix_review").click().run()
    assert listed(at) == before and FIXED_LINE not in texts(at)


def test_an_audit_row_fixed_after_the_audit_started_leaves_its_list(app_db):
    rows = [{"id": t, "field": "intent", "given": "greeting", "suggested": "cancel_order", "score": s}
            for t, s in (("x2", 0.95), ("x7", 0.9))]
    audits.record_audit(app_db, "default", audit_id="aud-1", state="done", n_labelled=20, started_at=time.time(),
                        version=audits.version_key(app_db, "default"), rows=rows)
    time.sleep(0.01)                         # the fix below is stored after the audit's start
    annotations.adjudicate(app_db, annotation_id="fix-x2", turn_id="x2", project="default", reviewer="ana",
                           intents=["greeting"], sentiment="neutral")
    at = page_as("label_errors", "ana")
    at.radio(key="errors_source").set_value("audit").run()
    assert not at.exception, at.exception
    assert listed(at) == ["x7"] and "1 fixed since this audit (relabelled or confirmed after it)" in texts(at)
