"""After the analyst fixes the row they ticked, it leaves the to-do list; the page then says so and shows
no row, where it used to show the list's first row under the same buttons: a second click (a double
click, or a click meant for the fixed turn) fixed a row nobody had chosen. With nothing ticked at all,
the first row is still shown, as before."""
from __future__ import annotations

from app_testkit import texts
from store import annotations
import test_analysis_pages
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db      # label errors lists x2 and x7: given greeting, run-a suggests cancel_order

LEFT = "Tick a row to resolve it (the ticked row has left the table)"


def test_fixing_the_ticked_row_leaves_no_row_under_the_buttons(app_db):
    at = page_as("label_errors", "ana")
    first, second = at.dataframe[0].value["turn_id"].tolist()
    at.session_state["errors_run_intent"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert f"Showing the ticked row: {second}" in texts(at)
    at.button(key="errors_fix_confirm").click().run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["turn_id"].tolist() == [first]
    assert LEFT in texts(at)
    assert not [b for b in at.button if b.key and b.key.startswith("errors_fix")]     # nothing to click by mistake
    assert not [a for a in annotations.history(app_db, first) if a["action"] == "adjudicate"]


def test_with_nothing_ticked_the_first_row_is_still_shown(app_db):
    at = page_as("label_errors", "ana")
    assert "Showing the first row (nothing is ticked): tick a row in the table to select another." in texts(at)
    assert LEFT not in texts(at)
