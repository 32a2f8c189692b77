"""An annotator's "My recent labels": their last live submits, each of which they can reopen to edit.

Undo reaches only the latest submit; this list reaches the last few, as Label Studio's and Prodigy's
history panels do. A turn a reviewer has adjudicated since is listed as settled (``SETTLED_SQL``): an
edit of it could no longer be stored, so the list says so instead of offering one.
"""
from __future__ import annotations

from store.annotations import SETTLED_SQL
from store.queue import LIVE_LABELS, lease_turn


def recent_submits(db, project: str, annotator: str, limit: int = 10) -> list[dict]:
    """This annotator's live submits in the project, newest first, with the turn's text: the label
    page's "My recent labels" list. Undo reached only the last submit; any of these can be reopened
    (``reopen_submit``). A replaced or undone submit is not live, so each turn appears once. ``settled``:
    a reviewer has adjudicated the turn, so an edit could no longer be stored (the list says so instead)."""
    return db.query_dicts(
        f"SELECT s.annotation_id, s.turn_id, s.created_at, s.intents, t.text, {SETTLED_SQL} AS settled "
        f"FROM ({LIVE_LABELS}) s "
        "JOIN turns t ON t.turn_id = s.turn_id WHERE s.project = ? AND s.annotator = ? AND s.action = 'submit' "
        "ORDER BY s.seq DESC LIMIT ?", [project, annotator, int(limit)])


def submit_settled_by_review(db, annotation_id: str) -> bool:
    """Whether a reviewer has settled the turn of this submit (see ``SETTLED_SQL``): Edit checks it when
    pressed, as the list it was drawn in may predate the adjudication."""
    row = db.query_one(f"SELECT {SETTLED_SQL} FROM annotations s WHERE s.annotation_id = ?", [annotation_id])
    return bool(row and row[0])


def _reopen_submit(con, annotation_id: str, project: str, annotator: str, now=None) -> str | None:
    row = con.execute(f"SELECT turn_id FROM ({LIVE_LABELS}) WHERE annotation_id = ? AND project = ? "
                      "AND annotator = ? AND action = 'submit'", [annotation_id, project, annotator]).fetchone()
    if row is None:
        return None
    lease_turn(con, project, row[0], annotator, now=now)
    return row[0]


def reopen_submit(db, *, annotation_id: str, project: str, annotator: str, now=None) -> str | None:
    """Lease the turn of this annotator's live submit ``annotation_id`` back to them to edit, as undo
    does for the last one (one lease each: the turn they held is released). Unlike undo, the submit
    stays live: submitting again replaces it (``_live_submit_of``), leaving the turn keeps it. Returns
    the turn_id, or None when it is no longer live (undone, or replaced in another tab)."""
    return db.write(_reopen_submit, annotation_id, project, annotator, now)
