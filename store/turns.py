"""Reading turns back as native records, with the model's (or an import's) suggestion attached."""
from __future__ import annotations

import json


def _record(row: dict) -> dict:
    return {
        "turn_id": row["turn_id"],
        "id": row["turn_id"],
        "project": row["project"],
        "conversation_id": row["conversation_id"],
        "turn_index": row["turn_index"],
        "context": [dict(c) for c in row["context"] or []],
        "text": row["text"],
        "response": row["response"],
        "meta": json.loads(row["meta"] or "{}"),
    }


def get_turn(db, turn_id: str) -> dict | None:
    """A turn as a native record (``id`` == ``turn_id``) plus ``suggestion`` (or None)."""
    rows = db.query_dicts("SELECT * FROM turns WHERE turn_id = ?", [turn_id])
    if not rows:
        return None
    record = _record(rows[0])
    record["suggestion"] = suggestion_for(db, turn_id)
    return record


def suggestion_for(db, turn_id: str) -> dict | None:
    """The latest finished model run's prediction for the turn, else an imported suggestion."""
    rows = db.query_dicts("""
        SELECT p.*, r.model_version FROM predictions p JOIN model_runs r USING (run_id)
        WHERE p.turn_id = ? AND r.status = 'done' ORDER BY r.finished_at DESC LIMIT 1""", [turn_id])
    if rows:
        p = rows[0]
        return {
            "source": f"model {p['model_version'] or p['run_id']}",
            "intents": list(p["intents"] or []),
            "intent_probs": json.loads(p["intent_probs"] or "{}"),
            "entities": [dict(e, score=s) for e, s in zip(p["entities"] or [], p["entity_scores"] or [])],
            "sentiment": p["sentiment"],
            "sentiment_probs": json.loads(p["sentiment_probs"] or "{}"),
            "alignment_score": p["alignment_score"],
            "aligned": None if p["misalignment_prob"] is None else p["misalignment_prob"] < 0.5,
        }
    rows = db.query_dicts("SELECT * FROM imported_labels WHERE turn_id = ? AND role = 'suggestion' LIMIT 1", [turn_id])
    if rows:
        s = rows[0]
        return {"source": "import", "intents": list(s["intents"] or []), "intent_probs": {},
                "entities": [dict(e) for e in s["entities"] or []], "sentiment": s["sentiment"],
                "sentiment_probs": {}, "alignment_score": None, "aligned": s["aligned"]}
    return None


def count_turns(db, project: str = "default") -> int:
    return db.query_one("SELECT count(*) FROM turns WHERE project = ?", [project])[0]


def iter_records(db, project: str = "default", *, batch: int = 50_000):
    """All turns of a project as native records (no labels), in import order."""
    offset = 0
    while True:
        rows = db.query_dicts("SELECT * FROM turns WHERE project = ? ORDER BY seq LIMIT ? OFFSET ?",
                              [project, batch, offset])
        if not rows:
            return
        yield from (_record(r) for r in rows)
        offset += batch
