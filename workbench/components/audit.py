"""The out-of-fold label-error audit from the browser: started on request, run in a background thread
(it trains the fast heads k times, seconds to minutes); while it runs its progress lives in memory, and
once it ends its result is recorded in the store (``store.audits``), so it survives an app restart.

Why a thread and not the worker: the audit reads the current labels and needs no job hand-off; it only
uses the frozen encoder's cached embeddings. The pipeline module is imported lazily, inside the thread,
so the workbench never imports torch at module level.
"""
from __future__ import annotations

import threading
import time
import uuid

import pandas as pd
import streamlit as st

from store import analysis, audits
from store.entity_errors import span_row_id

_audits: dict[tuple, dict] = {}
_lock = threading.Lock()


def _run(db, project: str, key: tuple, records: list[dict]) -> None:
    def progress(stage: str, fraction: float) -> None:
        _audits[key].update(stage=stage, fraction=fraction)

    current = _audits[key]
    try:
        from pipeline.label_errors import rank_label_errors

        rows = rank_label_errors(records, fields=("intent", "sentiment", "entity"), progress=progress)
        outcome = {"state": "done", "rows": rows}
    except Exception as exc:  # shown on the page; the app keeps running
        outcome = {"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
    try:
        audits.record_audit(db, project, audit_id=current["audit_id"], version=current["version"], n_labelled=current["n"],
                            started_at=current["started"], **outcome)
    except Exception as exc:  # the store closed under us (shutdown): keep the result in memory at least
        outcome.setdefault("error", f"not recorded: {type(exc).__name__}: {exc}")
    current.update(outcome, finished=time.time())


def start(db, project: str) -> None:
    key = (db.path, project)
    with _lock:
        if _audits.get(key, {}).get("state") == "running":
            return
        records = analysis.labelled_records(db, project)
        _audits[key] = {"state": "running", "stage": "starting", "fraction": 0.0, "n": len(records),
                        "started": time.time(), "version": audits.version_key(db, project),
                        "audit_id": str(uuid.uuid4())}
    threading.Thread(target=_run, args=(db, project, key, records), name=f"concord-audit:{project}", daemon=True).start()


def state(db, project: str) -> dict | None:
    """This process's audit (running or ended: the same result it recorded), else the newest one an
    earlier process recorded."""
    return _audits.get((db.path, project)) or audits.latest_audit(db, project)


def rows_frame(db, rows: list[dict], field: str) -> pd.DataFrame:
    frame = pd.DataFrame([r for r in rows if r["field"] == field])
    if frame.empty:
        return pd.DataFrame(columns=["turn_id", "text", "response", "given", "suggested", "score"])
    frame = frame.rename(columns={"id": "turn_id"})
    if field == "entity":        # several rows per turn: one per span
        frame["row_id"] = [span_row_id(t, a, b) for t, a, b in zip(frame["turn_id"], frame["start"], frame["end"])]
    return frame.merge(analysis.turn_texts(db, frame["turn_id"].tolist()), on="turn_id", how="left")


def panel(db, project: str, *, field: str) -> pd.DataFrame | None:
    """Start / progress / result of the audit; returns its rows for ``field`` once done."""
    current = state(db, project)
    running = current is not None and current["state"] == "running"
    if current is None:
        st.button("Run the audit now", key="audit_start", on_click=start, args=(db, project))
    else:
        st.button("Run the audit again", key="audit_start", disabled=running, on_click=start, args=(db, project))
    if current is None:
        st.text("Trains the fast heads out-of-fold on every labelled turn and ranks the labels they disagree with.")
        return None
    if running:
        st.progress(min(1.0, float(current.get("fraction") or 0.0)), text="Auditing the labels...")
        st.text(f"{current['n']} labelled turns; stage: {current.get('stage')}")
        st.button("Refresh", key="audit_refresh")
        return None
    if current["state"] == "failed":
        st.error("The audit failed.")
        st.text(current["error"])
        return None
    if current["version"] != audits.version_key(db, project):
        st.caption("Labels changed since this audit ran; run it again to include the changes.")
    return rows_frame(db, current["rows"], field)
