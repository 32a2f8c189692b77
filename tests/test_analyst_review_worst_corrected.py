"""The Misalignment page's worst-aligned table says which turns already have a corrected response stored:
without it the analyst re-opened turn after turn to find the ones still needing a correction."""
from __future__ import annotations

from store import analysis, annotations
import test_analysis_pages
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db      # x0, x1, x2 ... worst-aligned first (run-a's scores rise with i)

FORM_SUBMIT = "FormSubmitter:mis_correct_form-Store: misaligned + corrected response"


def corrected_column(at) -> dict:
    worst = at.dataframe[0].value
    return dict(zip(worst["turn_id"], worst["corrected"]))


def test_the_table_marks_turns_with_a_stored_correction(app_db):
    annotations.submit(app_db, annotation_id="c1", turn_id="x1", project="default", annotator="ana",
                       intents=["return_item"], sentiment="neutral", aligned=False,
                       corrected_response="A better reply.")          # an annotator's correction counts too
    at = page_as("misalignment", "ana")
    assert not at.exception, at.exception
    marks = corrected_column(at)
    assert marks["x1"] and not marks["x0"] and not marks["x2"]
    at.text_area(key="mis_corrected_x0").input("Here is your order status.")     # x0: the row shown first
    at.button(key=FORM_SUBMIT).click().run()
    assert not at.exception, at.exception
    marks = corrected_column(at)
    assert marks["x0"] and marks["x1"] and not marks["x2"]


def test_an_undone_correction_is_not_counted(app_db):
    annotations.submit(app_db, annotation_id="c2", turn_id="x2", project="default", annotator="ana",
                       intents=["greeting"], aligned=False, corrected_response="Hello!")
    worst = analysis.worst_aligned(app_db, "default", run_id="run-a").set_index("turn_id")
    assert worst.loc["x2", "corrected"]
    assert annotations.undo_last(app_db, annotation_id="u2", project="default", annotator="ana") == "x2"
    worst = analysis.worst_aligned(app_db, "default", run_id="run-a").set_index("turn_id")
    assert not worst.loc["x2", "corrected"]
