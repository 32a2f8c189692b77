"""Reading turns back as native records, with the model's (or an import's) suggestion attached."""
from __future__ import annotations

import json

from store import labels


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
    record["suggestion"] = suggestion_for(db, turn_id, project=record["project"])
    return record


def suggestion_for(db, turn_id: str, *, project: str | None = None) -> dict | None:
    """The latest finished model run's prediction for the turn, else an imported suggestion, in today's
    label names (``in_todays_names``): a run or import from before a rename or merge would otherwise
    pre-fill names the form refuses. ``encoder_reads`` is the run's verdict (False: its encoder could
    not read the turn, so the prediction says nothing about it; None: not checked, or an import)."""
    suggestion = _raw_suggestion(db, turn_id)
    if suggestion is None:
        return None
    if project is None:
        project = db.query_one("SELECT project FROM turns WHERE turn_id = ?", [turn_id])[0]
    renames = {kind: labels.rename_map(db, project, kind) for kind in labels.KINDS}
    return in_todays_names(suggestion, renames, labels.get_schema(db, project))


def _raw_suggestion(db, turn_id: str) -> dict | None:
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
            "encoder_reads": p.get("encoder_reads"),
        }
    rows = db.query_dicts("SELECT * FROM imported_labels WHERE turn_id = ? AND role = 'suggestion' LIMIT 1", [turn_id])
    if rows:
        s = rows[0]
        return {"source": "import", "intents": list(s["intents"] or []), "intent_probs": {},
                "entities": [dict(e) for e in s["entities"] or []], "sentiment": s["sentiment"],
                "sentiment_probs": {}, "alignment_score": None, "aligned": s["aligned"], "encoder_reads": None}
    return None


def in_todays_names(suggestion: dict, renames: dict[str, dict[str, str]], schema: dict) -> dict:
    """``suggestion`` with renamed labels read as today's names (``labels.rename_map`` per kind) and
    labels no longer in ``schema`` dropped (a kind the schema lists none of, as in a project imported
    without one, keeps its names: there is nothing to compare them with). Merged names keep the MAX of
    their probabilities: the heads may be independent sigmoids (multi-label intents), where P(any of
    them) lies between the max and the capped sum; the max never claims more than the model said of one
    name, so a merge cannot lift two weak guesses (0.3 + 0.3) over the pre-fill floor."""
    intent_names, entity_names, sentiment_names = (renames[k] for k in ("intent", "entity", "sentiment"))
    intents, entity_types = set(schema["intents"]), set(schema["entities"])
    sentiment = sentiment_names.get(suggestion.get("sentiment"), suggestion.get("sentiment"))
    spans = [{**e, "label": entity_names.get(e["label"], e["label"])} for e in suggestion.get("entities") or []]
    return {
        **suggestion,
        "intents": [i for i in dict.fromkeys(intent_names.get(i, i) for i in suggestion.get("intents") or [])
                    if _stands(i, intents)],
        "intent_probs": _merged_probs(suggestion.get("intent_probs"), intent_names, intents),
        "entities": [e for e in spans if _stands(e["label"], entity_types)],
        "sentiment": sentiment if sentiment in schema["sentiments"] else None,
        "sentiment_probs": _merged_probs(suggestion.get("sentiment_probs"), sentiment_names, set(schema["sentiments"])),
    }


def _stands(name: str, known: set[str]) -> bool:
    """The label exists today: it is in the schema, or the schema has no labels of its kind at all."""
    return not known or name in known


def _merged_probs(probs: dict | None, names: dict[str, str], known: set[str]) -> dict[str, float]:
    """name -> probability under today's names (the max of a merge's sources); retired names dropped."""
    merged: dict[str, float] = {}
    for old, prob in (probs or {}).items():
        name = names.get(old, old)
        if _stands(name, known) and prob is not None:
            merged[name] = max(merged.get(name, prob), prob)
    return merged


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
