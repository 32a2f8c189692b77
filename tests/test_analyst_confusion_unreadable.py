"""Model health's intent matrix counts the same turns its cells list: the turns the run's encoder cannot read
(mostly [UNK], e.g. Chinese under the English MiniLM) were counted in the matrix but hidden from a cell's
list, so a cell reading 2 listed 1. They are left out of both (and of the scores drawn from the matrix),
with a line saying how many; the one checkbox counts them in both."""
from __future__ import annotations

import json

from app_testkit import texts
import test_analysis_pages
from test_analysis_pages import page_as
from test_analyst_review_unreadable import cell_table, x2_unreadable
from test_health_legibility import _cells

app_db = test_analysis_pages.app_db      # x2, x7 labelled greeting, predicted cancel_order by run-a; 20 turns


def open_cell(at, given: str, predicted: str):
    at.selectbox(key="health_cm_given").set_value(given)
    at.selectbox(key="health_cm_pred").set_value(predicted)
    return at.run()


def matrix_count(at, given: str, predicted: str) -> int:
    cells = _cells(json.loads(at.get("plotly_chart")[0].proto.spec))
    return int(cells[(given, predicted)][0]) if (given, predicted) in cells else 0


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_the_matrix_counts_what_its_cell_lists(app_db):
    x2_unreadable(app_db)
    at = open_cell(page_as("health", "ana"), "greeting", "cancel_order")
    assert not at.exception, at.exception
    assert cell_table(at)["turn_id"].tolist() == ["x7"]
    assert matrix_count(at, "greeting", "cancel_order") == 1
    assert "1 turn(s) labelled 'greeting', predicted 'cancel_order'" in texts(at)
    assert "1 turn(s) the encoder cannot read (mostly [UNK]) are hidden: left out of the intent matrix" in texts(at)
    assert metrics(at)["Turns compared"] == "19"

    at.checkbox(key="health_cell_unreadable").check().run()
    assert not at.exception, at.exception
    assert sorted(cell_table(at)["turn_id"]) == ["x2", "x7"]
    assert matrix_count(at, "greeting", "cancel_order") == 2
    assert "2 turn(s) labelled 'greeting', predicted 'cancel_order'" in texts(at)
    assert metrics(at)["Turns compared"] == "20" and "are hidden" not in texts(at)


def test_a_run_that_reads_every_turn_draws_no_checkbox(app_db):
    at = page_as("health", "ana")
    assert not at.exception, at.exception
    assert not [c for c in at.checkbox if c.key == "health_cell_unreadable"]
    assert metrics(at)["Turns compared"] == "20" and matrix_count(at, "greeting", "cancel_order") == 2


def test_leaving_out_the_only_turns_of_a_label_keeps_the_cell_picker_working(app_db):
    """Every turn given or predicted cancel_order is unreadable: counted, the analyst opens greeting ->
    cancel_order; left out again, the matrix has no cancel_order, and the pick falls back to its labels."""
    unreadable = ["x2", "x7", "x3", "x8", "x13", "x18"]
    app_db.write(lambda con: con.execute("UPDATE predictions SET encoder_reads = NOT list_contains(?, turn_id) "
                                         "WHERE run_id = 'run-a'", [unreadable]))
    at = page_as("health", "ana")
    at.checkbox(key="health_cell_unreadable").check().run()
    at = open_cell(at, "greeting", "cancel_order")
    assert sorted(cell_table(at)["turn_id"]) == ["x2", "x7"]
    at.checkbox(key="health_cell_unreadable").uncheck().run()
    assert not at.exception, at.exception
    assert "cancel_order" not in at.selectbox(key="health_cm_pred").options
    assert at.selectbox(key="health_cm_pred").value in at.selectbox(key="health_cm_pred").options
    assert "6 turn(s) the encoder cannot read (mostly [UNK]) are hidden" in texts(at)
