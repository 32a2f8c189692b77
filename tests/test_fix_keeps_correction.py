"""A fix rewrites a turn's label as an adjudication, and that adjudication's corrected response is the
turn's from then on (``store.effective``). The fixes (one row on any analyst page, or a bulk action on
Browse) built the new label from the current intents, spans, sentiment and fit only, so every fix of a
turn with a corrected response dropped the correction from the gold label and from the exports."""
from __future__ import annotations

from app_testkit import texts
from store import annotations
from store.current import current_corrections
from store.effective import effective_labels
import test_analysis_pages
from test_analysis_pages import page_as
from test_browse_bulk import tick as tick_rows
from test_browse_page import tick
from workbench.components import fixes

app_db = test_analysis_pages.app_db     # x0..x19 labelled (ann's greeting on x7, x8)

FIXED_REPLY = "Your order 7 ships on Tuesday."


def corrected_by_ann(db, turn_id: str) -> None:
    annotations.submit(db, annotation_id=f"corr-{turn_id}", turn_id=turn_id, project="default", annotator="ann",
                       intents=["greeting"], sentiment="neutral", aligned=False, corrected_response=FIXED_REPLY)


def exported_correction(db, turn_id: str):
    frame = effective_labels(db, "default")
    return frame.set_index("turn_id").loc[turn_id, "corrected_response"]


def test_a_single_row_relabel_keeps_the_corrected_response(app_db):
    corrected_by_ann(app_db, "x7")
    at = page_as("browse", "ana")
    at.text_input(key="browse_search").input("ORDER 7").run()
    tick(at, at.dataframe[0].value["turn_id"].tolist().index("x7"))
    choice = fixes.choice_widget_key("browse_fix", turn_id="x7", field="intent", given="greeting")
    at.selectbox(key=choice).set_value("cancel_order").run()
    at.button(key="browse_fix_relabel_chosen").click().run()
    assert not at.exception, at.exception
    assert annotations.history(app_db, "x7")[-1]["corrected_response"] == FIXED_REPLY
    assert current_corrections(app_db, ["x7"])["x7"] == FIXED_REPLY
    assert exported_correction(app_db, "x7") == FIXED_REPLY


def test_a_bulk_intent_change_keeps_each_turns_corrected_response(app_db):
    corrected_by_ann(app_db, "x8")
    at = page_as("browse", "ana")
    table = at.dataframe[0].value["turn_id"].tolist()
    tick_rows(at, [table.index("x7"), table.index("x8")])
    at.selectbox(key="browse_bulk_intent").set_value("cancel_order").run()
    at.button(key="browse_bulk_apply").click().run()
    assert not at.exception, at.exception
    assert "Set intent cancel_order on 2 turn(s); 0 already had it" in texts(at)
    assert exported_correction(app_db, "x8") == FIXED_REPLY
    assert current_corrections(app_db, ["x7", "x8"]).get("x7") is None       # x7 had none: none is made up
