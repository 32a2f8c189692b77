"""Native JSONL: the records exactly as Concord reads them back (``store.readers``), plus the correction.

Labels are the effective labels at export time; ``corrected_response`` is added when a reviewer
rewrote the response (the importer ignores it, so a re-import keeps the original response).
"""
from __future__ import annotations

from pathlib import Path

from store.formats.common import ExportOptions
from store.records import TURN_FIELDS, dump_jsonl_line


def native_record(record: dict) -> dict:
    out = {k: record.get(k) for k in TURN_FIELDS}
    out["meta"] = out["meta"] or {}
    if record.get("corrected_response"):
        out["corrected_response"] = record["corrected_response"]
    return out


def write_native(records: list[dict], path: Path, options: ExportOptions | None = None) -> dict:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for record in records:
            f.write(dump_jsonl_line(native_record(record)) + "\n")
    return {"rows": len(records)}
