"""Drafts: an annotator's unsaved values for the turn they hold, kept so a reload loses nothing.

A reload of the label page is a new Streamlit session, and the form's values lived only in the old
one. As in Label Studio, the form writes its values here as they change (one row per project, turn
and annotator, overwritten) and reads them back when that annotator opens that turn again; a submit
or skip deletes the row. A draft older than the annotator's latest submit, skip or undo of the turn
is not returned (it describes a form that was already finished or taken back), so a row a delete
missed cannot bring old values back. The label page keeps a draft only while the form differs
(``same_values``) from what it drew for the turn, so an untouched turn never comes back "restored".
"""
from __future__ import annotations

from store.queue import utcnow

FINISHING_ACTIONS = ("submit", "skip", "undo")


def _clean_spans(entities) -> list[dict]:
    return [{"start": int(s["start"]), "end": int(s["end"]), "label": str(s["label"])} for s in entities or []]


def same_values(a: dict, b: dict) -> bool:
    """Whether two forms' values say the same labels as a draft stores them: span order, extra span
    keys and a blank correction do not count (the span selector reports spans in its own order)."""
    def stored(values: dict) -> tuple:
        spans = sorted((s["start"], s["end"], s["label"]) for s in _clean_spans(values.get("entities")))
        corrected = (values.get("corrected_response") or "").strip() or None
        return (list(values.get("intents") or []), spans, values.get("sentiment"), values.get("aligned"), corrected)
    return stored(a) == stored(b)


def _save(con, project: str, turn_id: str, annotator: str, values: dict) -> None:
    con.execute(
        "INSERT OR REPLACE INTO drafts (project, turn_id, annotator, intents, entities, sentiment, aligned,"
        " corrected_response, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [project, turn_id, annotator, list(values.get("intents") or []), _clean_spans(values.get("entities")),
         values.get("sentiment"), values.get("aligned"), values.get("corrected_response"), utcnow()])


def save_draft(db, *, project: str, turn_id: str, annotator: str, values: dict) -> None:
    """Keep ``values`` (intents, entities, sentiment, aligned, corrected_response) as this annotator's
    draft of the turn, replacing the one before."""
    db.write(_save, project, turn_id, annotator, dict(values))


def load_draft(db, *, project: str, turn_id: str, annotator: str) -> dict | None:
    """This annotator's draft of the turn, unless they submitted, skipped or undid it since."""
    placeholders = ", ".join("?" for _ in FINISHING_ACTIONS)
    rows = db.query_dicts(
        "SELECT intents, entities, sentiment, aligned, corrected_response FROM drafts d"
        " WHERE project = ? AND turn_id = ? AND annotator = ? AND NOT EXISTS (SELECT 1 FROM annotations a"
        f" WHERE a.turn_id = d.turn_id AND a.annotator = d.annotator AND a.action IN ({placeholders})"
        " AND a.created_at >= d.saved_at)",
        [project, turn_id, annotator, *FINISHING_ACTIONS])
    if not rows:
        return None
    row = rows[0]
    return {"intents": list(row["intents"] or []), "entities": _clean_spans(row["entities"]),
            "sentiment": row["sentiment"], "aligned": row["aligned"],
            "corrected_response": row["corrected_response"]}


def delete_draft(db, *, project: str, turn_id: str, annotator: str) -> None:
    """Forget this annotator's draft of the turn (it was submitted or skipped)."""
    db.write(lambda con: con.execute("DELETE FROM drafts WHERE project = ? AND turn_id = ? AND annotator = ?",
                                     [project, turn_id, annotator]))
