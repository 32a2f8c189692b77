"""Label errors (entity field): 'fixed since this run' is decided per span row, not per turn. One
adjudication of a turn (a relabel or a confirm of ONE span row) used to hide every span row of that turn,
spans nobody looked at included, and 'N fixed' counted turns. Now a row is fixed when a fix since the run
changed the spans over it, or a confirm named it (its note carries a marker of the confirmed span)."""
from __future__ import annotations

from app_testkit import texts
from store import analysis, fixed_rows
import test_analysis_pages
from test_entity_errors import CITY, DATE, _entity_run, _label_spans, span
from test_fixes_choice_row_key import choice_box
from test_label_errors_entity_fixed import FIXED_LINE, entity_page, listed

app_db = test_analysis_pages.app_db

# x10 "turn 10 <b>about</b> order 10": 'order 10' labelled a city (the run says a date), 'turn' labelled a
# date (the run finds nothing there): two rows on one turn, plus x12's city nobody labelled
TWO_ROWS = [("x10", "order 10", CITY, DATE), ("x12", "order 12", "O", CITY), ("x10", "turn", DATE, "O")]


def two_span_rows_page(db):
    _label_spans(db, "x10", [span(21, 29, CITY), span(0, 4, DATE)])
    _entity_run(db, held_out=["x10", "x11", "x12"])
    at = entity_page()
    assert listed(at) == TWO_ROWS
    return at


def test_confirming_one_span_row_leaves_the_turns_other_span_row_listed(app_db):
    at = two_span_rows_page(app_db)
    at.button(key="errors_fix_confirm").click().run()           # x10 'order 10': the city is right
    assert not at.exception, at.exception
    assert listed(at) == TWO_ROWS[1:]
    assert f"1 {FIXED_LINE}: hidden from the list" in texts(at)
    at.checkbox(key="errors_run_entity_show_fixed").check().run()
    table = at.dataframe[0].value
    assert table[["span_text", "fixed"]].values.tolist() == [["order 10", True], ["order 12", False],
                                                             ["turn", False]]


def test_the_confirm_note_names_the_span_it_confirmed(app_db):
    at = two_span_rows_page(app_db)
    at.button(key="errors_fix_confirm").click().run()
    note = app_db.query_one("SELECT note FROM annotations WHERE action = 'adjudicate' AND turn_id = 'x10'")[0]
    assert note.startswith(f"analyst confirm: entity {CITY} [21-29]")                     # still read by humans
    assert fixed_rows.confirmed_spans_in(note) == {(21, 29)}


def test_a_span_relabelled_to_the_suggestion_is_fixed_and_the_other_is_not(app_db):
    at = two_span_rows_page(app_db)
    at.button(key="errors_fix_relabel").click().run()            # 'order 10': city -> date, as the run says
    assert not at.exception, at.exception
    assert listed(at) == TWO_ROWS[1:] and f"1 {FIXED_LINE}: hidden from the list" in texts(at)


def test_a_span_removed_by_a_chosen_label_is_fixed_and_the_other_is_not(app_db):
    at = two_span_rows_page(app_db)
    choice_box(at).set_value("O").run()                         # 'order 10' is no entity at all
    at.button(key="errors_fix_relabel_chosen").click().run()
    assert not at.exception, at.exception
    spans = analysis.current_labels(app_db, "default", ["x10"])["x10"]["entities"]
    assert [(s["start"], s["end"], s["label"]) for s in spans] == [(0, 4, DATE)]
    assert listed(at) == TWO_ROWS[1:] and f"1 {FIXED_LINE}: hidden from the list" in texts(at)
