"""The out-of-fold label-error audit from the browser: started on request, run as a child process
(``pipeline.audit_run``: it trains the fast heads k times, seconds to minutes) watched by a thread that
keeps its progress in memory; once it ends its result is recorded in the store (``store.audits``), so
it survives an app restart.

Why a child process: the app never loads torch (only the child does), and minutes of training cannot
hold the app's GIL while pages render. Records go in and ranked rows come out as files, as with the
worker, so the child never opens the database; killing it leaves the app serving (the audit fails).
"""
from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import streamlit as st

from store import analysis, audits
from store.entity_errors import span_row_id
from store.jobfiles import read_json
from workbench.supervisor import worker_environment

_audits: dict[tuple, dict] = {}
_lock = threading.Lock()
_children: set[subprocess.Popen] = set()     # running audit processes, stopped when the app exits
POLL_S = 0.5


def _run(db, project: str, key: tuple, records: list[dict]) -> None:
    current = _audits[key]
    outcome = _audit_in_child(records, current)
    try:
        audits.record_audit(db, project, audit_id=current["audit_id"], version=current["version"], n_labelled=current["n"],
                            started_at=current["started"], **outcome)
    except Exception as exc:  # the store closed under us (shutdown): keep the result in memory at least
        outcome.setdefault("error", f"not recorded: {type(exc).__name__}: {exc}")
    current.update(outcome, finished=time.time())


def _audit_in_child(records: list[dict], current: dict) -> dict:
    """Run ``pipeline.audit_run`` on ``records``, mirroring its progress into ``current``; its outcome dict."""
    folder = Path(tempfile.mkdtemp(prefix="concord-audit-"))
    paths = {"records": folder / "records.jsonl", "out": folder / "out.json", "progress": folder / "progress.json"}
    try:
        with open(paths["records"], "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        command = [sys.executable, "-m", "pipeline.audit_run", *(a for name, path in paths.items() for a in (f"--{name}", str(path)))]
        with open(folder / "audit.log", "wb") as log:
            child = subprocess.Popen(command, env=worker_environment(), stdout=log, stderr=subprocess.STDOUT)
            _children.add(child)
            try:
                while child.poll() is None:
                    current.update(read_json(paths["progress"], {}) or {})
                    time.sleep(POLL_S)
            finally:
                _children.discard(child)
        return _outcome(read_json(paths["out"]), child.returncode, folder / "audit.log")
    except Exception as exc:  # shown on the page; the app keeps running
        return {"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _outcome(result: dict | None, returncode: int, log: Path) -> dict:
    if result and result.get("state") in ("done", "failed"):
        return result
    tail = log.read_text(encoding="utf-8", errors="replace")[-1500:].strip()
    return {"state": "failed", "error": f"the audit process ended with exit code {returncode} and no result\n{tail}"}


@atexit.register
def _stop_children() -> None:
    for child in list(_children):
        child.terminate()


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


STATUS_EVERY_S = 2.0    # how often the page redraws a running audit's progress by itself


@st.fragment(run_every=STATUS_EVERY_S)
def running_status(db, project: str) -> None:
    """A running audit's progress, redrawn every ``STATUS_EVERY_S`` from what the watching thread mirrors from
    the child's progress file. Without it the page stayed on "stage: starting" until a manual refresh, also
    long after the audit had ended; once it has, the whole page reruns to show the result or the failure."""
    current = state(db, project)
    if current is None or current["state"] != "running":
        st.rerun(scope="app")
    st.progress(min(1.0, float(current.get("fraction") or 0.0)), text="Auditing the labels...")
    st.text(f"{current['n']} labelled turns; stage: {current.get('stage')}")


def show_failure(error: str) -> None:
    """A failed audit as one readable line (the exception's type and message, the error's first line) and
    the rest (the child's traceback, or the log tail of a process that died) in an expander."""
    summary, _, detail = (error or "unknown error").strip().partition("\n")
    st.error("The audit failed.")
    st.text(summary)
    if detail.strip():
        with st.expander("Details"):
            st.code(detail.strip(), language=None)


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
        running_status(db, project)
        return None
    if current["state"] == "failed":
        show_failure(current["error"])
        return None
    if current["version"] != audits.version_key(db, project):
        st.caption("Labels changed since this audit ran; run it again to include the changes.")
    return with_encoder_reads(db, project, rows_frame(db, current["rows"], field))


def with_encoder_reads(db, project: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The audit's rows with ``encoder_reads`` per turn, so the page hides the turns the encoder cannot
    read as it does for a run's predictions (the audit's top rows were Chinese turns with nonsense
    evidence). The audit records no verdict: the newest run's stands in, as the audit chooses its
    encoder the way the worker does; a turn that run did not score is "not checked"."""
    reads = analysis.encoder_reads(db, project, frame["turn_id"].tolist()) if not frame.empty else {}
    return frame.assign(encoder_reads=pd.Series([reads.get(t) for t in frame["turn_id"]], index=frame.index,
                                                dtype=object))
