"""What ties an export to the data state it came from: when and by whom it was made, and which labels it holds.

An analyst's review found that a manifest with code version, schema hash, model run and file hashes
still could not say which labels an old export contained once labelling went on, nor be reproduced.
``label_state`` answers that: a sha256 over the effective labels of the exported turns (one canonical
JSON line per turn, sorted, so the split and the file format do not change it), the counts, and the
newest annotation and gold import those labels include. The same database exported twice gives the
same fingerprint; any change to an exported turn's labels (a new submit, an adjudication, an undo, a
rename) gives another.

``exported_at`` is the one field that differs between two exports of the same data: it comes from
the caller (``store.export.export`` stamps it), so ``export_records`` alone stays byte-identical.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timezone

import pandas as pd

from store.queue import LIVE_LABELS

# The record fields the fingerprint covers, beside the turn id: everything an annotator or reviewer decides.
LABEL_FIELDS = ("intents", "entities", "sentiment", "aligned", "corrected_response")
FINGERPRINT_METHOD = ("sha256 over the exported turns sorted by id, one compact sort_keys JSON line each: "
                      "id, " + ", ".join(LABEL_FIELDS) + " (entities sorted by start, end, label)")


def export_time() -> datetime:
    """Now in UTC: the manifest's ``exported_at`` and the ``exports`` row share it. Microseconds are kept:
    the exports list is ordered by this time, and two exports can fall within one second."""
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 with the UTC offset spelled out (store timestamps are naive UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _label_line(record: dict) -> str:
    spans = sorted((int(s["start"]), int(s["end"]), s["label"]) for s in record.get("entities") or [])
    row = {"id": record.get("id") if record.get("id") is not None else record.get("text"),
           "intents": list(record.get("intents") or []),
           "entities": [{"start": s, "end": e, "label": label} for s, e, label in spans],
           "sentiment": record.get("sentiment"), "aligned": record.get("aligned"),
           "corrected_response": record.get("corrected_response") or None}
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def label_fingerprint(records: list[dict]) -> str:
    """sha256 (hex) of the records' labels, independent of their order (``FINGERPRINT_METHOD``)."""
    digest = hashlib.sha256()
    for line in sorted(_label_line(r) for r in records):
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def records_label_state(records: list[dict]) -> dict:
    """The part of ``label_state`` the records alone decide (every export has it, from the store or not)."""
    labelled_intents = Counter(i for r in records for i in r.get("intents") or [])
    return {"fingerprint": label_fingerprint(records), "fingerprint_method": FINGERPRINT_METHOD,
            "turns": len(records), "intent_labels": sum(labelled_intents.values()),
            "entity_spans": sum(len(r.get("entities") or []) for r in records)}


def store_label_state(db, project: str, frame: pd.DataFrame) -> dict:
    """The part only the store knows, for the exported rows of ``effective_labels`` (``frame``): where the
    labels came from, and the newest annotation and gold import among them (the label-data version)."""
    sources = Counter(frame["label_source"].tolist()) if len(frame) else Counter()
    turn_ids = frame["turn_id"].tolist() if len(frame) else []
    imported = frame.loc[frame["label_source"] == "imported", "turn_id"].tolist() if len(frame) else []
    return {"by_source": dict(sorted(sources.items())),
            "latest_annotation": latest_annotation(db, project, turn_ids),
            "latest_gold_import": latest_gold_import(db, imported)}


def latest_annotation(db, project: str, turn_ids: list[str]) -> dict | None:
    """The newest live submit or adjudication (not undone) on any of ``turn_ids``: every label in the
    export was given at or before it (``seq`` orders all annotations of the database)."""
    if not turn_ids:
        return None
    rows = db.query_dicts(f"""
        SELECT annotation_id, seq, action, created_at FROM ({LIVE_LABELS} AND a.project = ?)
        WHERE turn_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY seq DESC LIMIT 1""", [project, turn_ids])
    if not rows:
        return None
    return dict(rows[0], created_at=iso_utc(rows[0]["created_at"]))   # annotations store naive UTC (queue.utcnow)


def latest_gold_import(db, turn_ids: list[str]) -> dict | None:
    """The newest import whose gold labels the export carries (turns no one has labelled since)."""
    if not turn_ids:
        return None
    rows = db.query_dicts("""
        SELECT i.import_id, i.imported_at FROM imported_labels l JOIN imports i ON i.import_id = l.import_id
        WHERE l.role = 'gold' AND l.turn_id IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY i.imported_at DESC, i.import_id DESC LIMIT 1""", [turn_ids])
    # imported_at is the database's current_timestamp (its session time zone), so no offset is claimed
    return dict(rows[0], imported_at=rows[0]["imported_at"].isoformat()) if rows else None


def version_identity(manifest: dict) -> str:
    """One line naming the export's data state (CLI summary, Export page): the label fingerprint's first
    12 hex digits (enough to tell exports apart by eye; the manifest keeps all 64), the newest annotation
    included and when and by whom it was exported. Older manifests lack these fields: they read unknown."""
    state = manifest.get("label_state") or {}
    parts = [f"labels {(state.get('fingerprint') or 'unknown')[:12]}"]
    latest = state.get("latest_annotation")
    if latest:
        parts.append(f"up to annotation {latest['annotation_id']} of {latest['created_at']}")
    by = f" by {manifest['exported_by']}" if manifest.get("exported_by") else ""
    parts.append(f"exported {manifest.get('exported_at') or 'at an unknown time'}{by}")
    return ", ".join(parts)
