"""Native JSONL: the records exactly as Concord reads them back (``store.readers``), plus the correction.

Labels are the effective labels at export time; ``corrected_response`` is added when a reviewer
rewrote the response (the importer ignores it, so a re-import keeps the original response).

Native is the complete record, so a turn judged only for its response fit (or resolved with nothing
picked) is written too, with ``"intents": []``: its fit judgement is data a re-import must keep. Such
an empty list says nothing about intents (``store.records.intent_labelled``); the manifest counts these rows
(``rows_intents_not_labelled``), and the intent exports leave them out.
"""
from __future__ import annotations

from pathlib import Path

from store.formats.common import ExportOptions, is_multi_label
from store.records import TURN_FIELDS, dump_jsonl_line, intent_labelled


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
    multi_label = is_multi_label(records, options)
    return {"rows": len(records),
            "rows_intents_not_labelled": sum(1 for r in records if not intent_labelled(r, multi_label))}
