"""Turns the run's encoder cannot read (mostly [UNK] to the packaged English MiniLM, e.g. Chinese) are set
aside on every analyst view that proposes a relabel, not only on the label-error list of a run's
predictions: the Model health cell click-through offered "Relabel to the suggestion" on them with no word
of warning, and the out-of-fold audit listed them first (117 of 216 flagged, nonsense evidence)."""
from __future__ import annotations

import time

from app_testkit import texts
from store import analysis, audits
import test_analysis_pages
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db      # x2, x7 labelled greeting, predicted cancel_order by run-a

HIDDEN = "1 turn(s) the encoder cannot read (mostly [UNK]) are hidden"


def x2_unreadable(db) -> None:
    db.write(lambda con: con.execute("UPDATE predictions SET encoder_reads = (turn_id <> 'x2') WHERE run_id = 'run-a'"))


def cell_table(at):
    return next(d.value for d in at.dataframe if "predicted" in d.value.columns)


def test_the_health_cell_hides_unreadable_turns_until_asked(app_db):
    x2_unreadable(app_db)
    at = page_as("health", "ana")
    at.selectbox(key="health_cm_given").set_value("greeting")
    at.selectbox(key="health_cm_pred").set_value("cancel_order")
    at.run()
    assert not at.exception, at.exception
    assert cell_table(at)["turn_id"].tolist() == ["x7"] and HIDDEN in texts(at)
    assert "Showing the first row (nothing is ticked)" in texts(at)
    at.checkbox(key="health_cell_unreadable").check().run()
    shown = cell_table(at).set_index("turn_id")["encoder reads it"].to_dict()
    assert shown == {"x2": "no (mostly [UNK])", "x7": "yes"} and "are hidden" not in texts(at)


def test_the_store_cell_says_which_turns_the_encoder_reads(app_db):
    x2_unreadable(app_db)
    cell = analysis.confusion_cell_turns(app_db, "default", gold="greeting", predicted="cancel_order", run_id="run-a")
    assert dict(zip(cell["turn_id"], cell["encoder_reads"])) == {"x2": False, "x7": True}
    assert analysis.encoder_reads(app_db, "default", ["x2", "x7", "nope"]) == {"x2": False, "x7": True}


def test_the_audit_hides_them_too_by_the_newest_runs_verdict(app_db):
    x2_unreadable(app_db)
    rows = [{"id": t, "field": "intent", "given": "greeting", "suggested": "cancel_order", "score": s}
            for t, s in (("x2", 0.95), ("x7", 0.9))]
    audits.record_audit(app_db, "default", audit_id="aud-1", state="done", n_labelled=20, started_at=time.time(),
                        version=audits.version_key(app_db, "default"), rows=rows)
    at = page_as("label_errors", "ana")
    at.radio(key="errors_source").set_value("audit").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["turn_id"].tolist() == ["x7"] and HIDDEN in texts(at)
    at.checkbox(key="errors_audit_intent_unreadable").check().run()
    assert at.dataframe[0].value["turn_id"].tolist() == ["x2", "x7"]
