"""Likely label errors: labelled turns the model confidently disagrees with, with the given label, the
suggestion, the score, one-click fixes and the nearest labelled turns as evidence.

Two sources: the model run's stored predictions (instant; out-of-sample only for its held-out turns),
or the full out-of-fold audit (``pipeline.label_errors.rank_label_errors``, the same ranking as
``concord find-errors``), run on request in a child process because it trains the heads k times.

Turns the encoder could not read (mostly [UNK] to the packaged English MiniLM, e.g. Chinese) are hidden by
default from both sources (``ui.readable_rows``): the model's "confident disagreement" there is an artifact
of a blind encoder, not evidence of a label error. A line says how many were hidden and a checkbox shows
them. The audit records no verdict of its own: the newest run's stands in (``components.audit``).

Rows fixed since the list was made (an adjudication newer than the run's label snapshot or the audit's
start: ``store.fixed_rows``) are hidden too, with a count and a checkbox showing them with a 'fixed'
column: the list is computed from the labels of that time, so a relabelled or confirmed turn stayed on top
until the next run, looking unfixed, and the analyst's list never shrank. An entity row is one span: it
is fixed by a fix of that span (relabelled, removed, or confirmed), not by one of another span of its turn.
"""
from __future__ import annotations

from datetime import datetime, timezone

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


def list_made_at(db, project: str, source: str, run_id: str | None) -> datetime | None:
    """When the labels the list compares were read: the run's snapshot (its job was written then; the
    Pipeline page counts "labels changed since the last run" from the same time) or the audit's start."""
    if source == "run":
        return (analysis.resolve_run(db, project, run_id) or {}).get("created_at")
    current = audit.state(db, project) or {}
    if current.get("started_at") is not None:          # recorded in the store
        return current["started_at"]
    started = current.get("started")                   # this process's audit: a Unix time
    return datetime.fromtimestamp(started, tz=timezone.utc).replace(tzinfo=None) if started else None


def with_relabelled_to_agree(db, project: str, rows: pd.DataFrame, *, field: str, run_id: str | None,
                             since) -> pd.DataFrame:
    """The run's rows plus those of turns relabelled since the run to what it predicts: its list compares
    today's labels, so such a turn dropped out uncounted (``analysis.fixed_to_agree``), while the fixed line
    says "relabelled or confirmed". Entity rows are merged span by span (``row_id``: a turn has one per
    span). Most likely error first, as the list is (unscored entity rows last)."""
    relabelled = analysis.fixed_to_agree(db, project, field=field, run_id=run_id, since=since)
    entity = field == "entity"
    id_column, order = ("row_id", ["score", "turn_id", "start"]) if entity else ("turn_id", ["score", "turn_id"])
    relabelled = relabelled[~relabelled[id_column].isin(rows[id_column])]
    if relabelled.empty:
        return rows
    merged = pd.concat([rows, relabelled.astype({"encoder_reads": object})], ignore_index=True)
    return merged.sort_values(order, ascending=[False] + [True] * (len(order) - 1),
                              na_position="last").reset_index(drop=True)


def hide_fixed_rows(db, project: str, rows: pd.DataFrame, key: str, *, field: str, since, since_text: str):
    """``ui.fixed_rows`` per row: an intent or sentiment row is its turn's (any adjudication since fixes it),
    an entity row one span of a turn, fixed only by a fix of that span (``analysis.entity_rows_fixed_since``),
    so confirming one span leaves the turn's other spans to do and "N fixed" counts rows."""
    if field != "entity":
        fixed = analysis.adjudicated_since(db, project, rows["turn_id"].tolist(), since)
        return ui.fixed_rows(rows, fixed, key, since=since_text)
    fixed = analysis.entity_rows_fixed_since(db, project, rows, since)
    return ui.fixed_rows(rows, fixed, key, since=since_text, id_column="row_id")


def to_do_rows(db, project: str, rows: pd.DataFrame, *, source: str, field: str, run_id: str | None):
    """The rows to list and the table's key: turns the encoder cannot read and turns fixed since the list
    was made are left out unless their checkboxes show them. A tick means a row of one table, so each
    shown extra makes the table key a new one."""
    key = f"errors_{source}_{field}"
    table_key = key
    since = list_made_at(db, project, source, run_id)
    if source == "run":
        rows = with_relabelled_to_agree(db, project, rows, field=field, run_id=run_id, since=since)
    rows = ui.readable_rows(rows, key)
    table_key += "_all" if st.session_state.get(f"{key}_unreadable") else ""
    rows = hide_fixed_rows(db, project, rows, key, field=field, since=since,
                           since_text="this run" if source == "run" else "this audit")
    table_key += "_fixed" if ui.FIXED_COLUMN in rows else ""
    return rows, table_key


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
    rows, key = to_do_rows(db, project, rows, source=source, field=field, run_id=run_id)
    st.text(f"{len(rows)} candidate(s), most likely error first ({SCORES[entity and source == 'run']})")
    note = empty_run_note(db, project, run_id) if source == "run" and rows.empty else None
    if note:
        notice("info", note)
    listed = COLUMNS.get(field, ["turn_id", "text", "given", "suggested", "score", "intents"]) + [
        ui.READS_COLUMN, ui.FIXED_COLUMN]
    shown = [c for c in listed if c in rows]
    row = ui.pick_turn(rows, key=key, id_column="row_id" if entity else "turn_id", columns=shown)
    if row is None:
        return
    ui.show_turn(row)
    given, suggested = row["given"], row["suggested"]
    if entity:      # the fix acts on this span: {start, end, label}
        given, suggested = ({"start": int(row["start"]), "end": int(row["end"]), "label": label}
                            for label in (given, suggested))
    if row.get(ui.FIXED_COLUMN):
        fixes.fixed_note(db, project, turn_id=row["turn_id"], field=field, given=given,
                         since="this run" if source == "run" else "this audit")
    fixes.fix_buttons(db, user, project, turn_id=row["turn_id"], field=field, given=given, suggested=suggested,
                   key="errors_fix")
    ui.evidence_panel(db, project, row["turn_id"], run_id=run_id)
