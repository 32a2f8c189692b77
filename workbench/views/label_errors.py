"""Likely label errors: labelled turns the model confidently disagrees with, with the given label, the
suggestion, the score, one-click fixes and the nearest labelled turns as evidence.

Two sources: the model run's stored predictions (instant; out-of-sample only for its held-out turns),
or the full out-of-fold audit (``pipeline.label_errors.rank_label_errors``, the same ranking as
``concord find-errors``), run on request in a child process because it trains the heads k times.

Turns the encoder could not read (mostly [UNK] to the packaged English MiniLM, e.g. Chinese) are hidden by
default from both sources (``ui.readable_rows``): the model's "confident disagreement" there is an artifact
of a blind encoder, not evidence of a label error. A line says how many were hidden and a checkbox shows
them. The audit records no verdict of its own: the newest run's stands in (``components.audit``).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from store import analysis
from workbench.components import analysis as ui
from workbench.components import audit, fixes
from workbench.components.notice import notice

SOURCES = {"run": "Model run predictions (instant)", "audit": "Out-of-fold audit (cleanlab; trains k times)"}
FIELDS = ["intent", "sentiment", "entity"]
SCORES = {False: "score = 1 - p(given label)",
          True: "score = the model's confidence in its span; labelled spans it does not find have no score and come last"}
COLUMNS = {"entity": ["turn_id", "span_text", "start", "end", "given", "suggested", "score"]}


def candidates(db, project: str, source: str, field: str, run_id: str | None) -> pd.DataFrame | None:
    if source == "run":
        return analysis.label_error_candidates(db, project, field=field, run_id=run_id)
    return audit.panel(db, project, field=field)


def empty_run_note(db, project: str, run_id: str) -> str | None:
    """Why the run's list can be empty with many labels: its predictions are out-of-sample only for its
    held-out turns, which is all this source looks at then; the audit source checks every labelled turn."""
    snapshot = analysis.model_snapshot(db, project, run_id=run_id)
    if snapshot is None or snapshot.scope != "held-out":
        return None
    return (f"This source only checks the run's {len(snapshot.frame)} held-out turn(s) "
            f"(of {len(analysis.labelled_turn_ids(db, project))} labelled), the only ones it predicted "
            f"out-of-sample. To check every labelled turn, choose the source '{SOURCES['audit']}' above.")


@ui.analyst_page
def render(db, user, project: str) -> None:
    """The page body; app.py checks the role (analyst/admin) on the server before calling it."""
    st.header("Likely label errors")
    ui.show_flash()
    left, right = st.columns(2)
    source = left.radio("Source", list(SOURCES), format_func=SOURCES.get, key="errors_source", horizontal=True)
    field = right.radio("Field", FIELDS, key="errors_field", horizontal=True)
    run_id = ui.run_picker(db, project, key="errors_run") if source == "run" else None
    if source == "run" and run_id is None:
        return
    if source == "run":
        ui.scope_note(analysis.model_snapshot(db, project, run_id=run_id).scope)
    rows = candidates(db, project, source, field, run_id)
    if rows is None:
        return
    entity = field == "entity"
    key = f"errors_{source}_{field}"
    rows = ui.readable_rows(rows, key)
    key += "_all" if st.session_state.get(f"{key}_unreadable") else ""   # a tick means a row of this table
    st.text(f"{len(rows)} candidate(s), most likely error first ({SCORES[entity and source == 'run']})")
    note = empty_run_note(db, project, run_id) if source == "run" and rows.empty else None
    if note:
        notice("info", note)
    listed = COLUMNS.get(field, ["turn_id", "text", "given", "suggested", "score", "intents"]) + [ui.READS_COLUMN]
    shown = [c for c in listed if c in rows]
    row = ui.pick_turn(rows, key=key, id_column="row_id" if entity else "turn_id", columns=shown)
    if row is None:
        return
    ui.show_turn(row)
    given, suggested = row["given"], row["suggested"]
    if entity:      # the fix acts on this span: {start, end, label}
        given, suggested = ({"start": int(row["start"]), "end": int(row["end"]), "label": label}
                            for label in (given, suggested))
    fixes.fix_buttons(db, user, project, turn_id=row["turn_id"], field=field, given=given, suggested=suggested,
                   key="errors_fix")
    ui.evidence_panel(db, project, row["turn_id"], run_id=run_id)
