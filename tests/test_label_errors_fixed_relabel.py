"""Label errors (run source): a turn relabelled to the model's suggestion left the list ("0 candidate(s)")
without being counted in the "N fixed since this run (relabelled or confirmed ...)" line, while a confirmed
one was: the run's list compares today's labels, which now agree with the run. It now counts as fixed and
shows under the checkbox with 'fixed' ticked; and the detail pane of a fixed row says what the fix was."""
from __future__ import annotations

from app_testkit import texts
from store import analysis
import test_analysis_pages
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db      # label errors lists x2 and x7: given greeting, run-a suggests cancel_order

FIXED_LINE = "fixed since this run (relabelled or confirmed after it)"


def listed(at) -> list[str]:
    return at.dataframe[0].value["turn_id"].tolist()


def test_relabelling_to_the_suggestion_counts_as_fixed(app_db):
    at = page_as("label_errors", "ana")
    first, second = listed(at)
    at.button(key="errors_fix_relabel").click().run()
    assert not at.exception, at.exception
    assert analysis.current_labels(app_db, "default", [first])[first]["intents"] == ["cancel_order"]
    assert listed(at) == [second]
    assert f"1 {FIXED_LINE}: hidden from the list" in texts(at)
    at.checkbox(key="errors_run_intent_show_fixed").check().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["turn_id"], table["fixed"])) == {first: True, second: False}
    row = table[table["turn_id"] == first].iloc[0]
    assert (row["given"], row["suggested"]) == ("greeting", "cancel_order")       # as the run listed it


def test_the_detail_pane_of_a_fixed_row_says_what_the_fix_was(app_db):
    at = page_as("label_errors", "ana")
    first, second = listed(at)
    at.button(key="errors_fix_relabel").click().run()         # first: relabelled to cancel_order
    at.button(key="errors_fix_confirm").click().run()         # second: confirmed as greeting
    at.checkbox(key="errors_run_intent_show_fixed").check().run()
    assert not at.exception, at.exception
    assert f"2 {FIXED_LINE}" in texts(at)
    assert "Already fixed (relabelled to [cancel_order]) since this run" in texts(at)      # the first row opens
    assert "Already fixed (confirmed)" not in texts(at)


def test_an_open_row_has_no_fixed_note(app_db):
    at = page_as("label_errors", "ana")
    assert "Already fixed" not in texts(at)
