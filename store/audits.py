"""Out-of-fold label-error audits, kept in the store so a finished audit outlives the app process that ran
it (an audit trains the heads k times: minutes on a large project, not something to lose on a restart).

An audit is recorded once it ends (done or failed) with the data version it read, so the page can say
whether labels changed since. Rows are the ``pipeline.label_errors.rank_label_errors`` output as JSON.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from store.current import data_version


def version_key(db, project: str) -> str:
    """The project's current data version as text, comparable with an audit's ``data_version``."""
    return json.dumps(data_version(db, project), default=str)


def record_audit(db, project: str, *, audit_id: str, state: str, version: str, n_labelled: int,
                 started_at: float, rows: list[dict] | None = None, error: str | None = None) -> None:
    """Store a finished (``done``) or ``failed`` audit; recording the same ``audit_id`` twice is a no-op."""
    if state not in ("done", "failed"):
        raise ValueError(f"state: expected 'done' or 'failed', got {state!r}")
    started = datetime.fromtimestamp(started_at, tz=timezone.utc).replace(tzinfo=None)

    def write(con):
        con.execute("INSERT OR IGNORE INTO label_audits (audit_id, project, state, data_version, n_labelled, rows,"
                    " error, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [audit_id, project, state, version, n_labelled,
                     None if rows is None else json.dumps(rows, ensure_ascii=False), error, started])
    db.write(write)


def latest_audit(db, project: str) -> dict | None:
    """The newest recorded audit of ``project`` (``rows`` decoded), or None."""
    row = db.query_one("SELECT audit_id, state, data_version, n_labelled, rows, error, started_at, finished_at"
                       " FROM label_audits WHERE project = ? ORDER BY finished_at DESC, audit_id DESC LIMIT 1", [project])
    if row is None:
        return None
    keys = ("audit_id", "state", "version", "n", "rows", "error", "started_at", "finished_at")
    audit = dict(zip(keys, row))
    audit["rows"] = json.loads(audit["rows"]) if audit["rows"] else []
    return audit
