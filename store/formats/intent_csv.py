"""Intent classification sets: CSV (spreadsheet-safe) and JSONL with ``text`` and ``label``.

``label`` is the intents joined with ``+`` (how Rasa and most multi-intent setups name a combined
class); ``intents`` is the JSON list for multi-label training. CSV cells that a spreadsheet would
run as a formula are prefixed with ``'``; the reader here undoes exactly that.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from store.formats.common import (ExportOptions, FormatReadResult, add_record, dumps, is_multi_label,
                                  neutralise_cell, note_empty, read_utf8, restore_cell, write_jsonl_objects,
                                  write_text)
from store.message_text import quoted
from store.records import Problem, intent_labelled

CSV_COLUMNS = ("id", "conversation_id", "turn_index", "text", "label", "intents", "sentiment")


def intent_row(record: dict) -> dict:
    intents = record.get("intents") or []
    return {
        "id": record.get("id"), "conversation_id": record.get("conversation_id"),
        "turn_index": record.get("turn_index"), "text": record["text"], "label": "+".join(intents),
        "intents": intents, "sentiment": record.get("sentiment"),
    }


def to_intent_csv(records: list[dict]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        row = intent_row(record)
        row["intents"] = dumps(row["intents"])
        writer.writerow([neutralise_cell("" if row[c] is None else str(row[c])) for c in CSV_COLUMNS])
    return buffer.getvalue()


def intent_examples(records: list[dict], options: ExportOptions | None = None) -> tuple[list[dict], dict]:
    """The records that are intent examples, and the counts the manifest reports about the rest."""
    multi_label = is_multi_label(records, options)
    kept = [r for r in records if intent_labelled(r, multi_label)]
    return kept, {"rows": len(kept), "rows_without_intents": len(records) - len(kept),
                  "rows_no_intent_applies": sum(1 for r in kept if not r.get("intents"))}


def write_intent_csv(records: list[dict], path: Path, options: ExportOptions | None = None) -> dict:
    kept, counts = intent_examples(records, options)
    write_text(path, to_intent_csv(kept))
    return counts


def write_intent_jsonl(records: list[dict], path: Path, options: ExportOptions | None = None) -> dict:
    kept, counts = intent_examples(records, options)
    write_jsonl_objects(path, (intent_row(r) for r in kept))
    return counts


def read_intent_csv(path: Path) -> FormatReadResult:
    """Read an intent CSV written by ``to_intent_csv`` (or any CSV with ``text`` and ``label``/``intents``)."""
    result = FormatReadResult()
    text = read_utf8(Path(path), result)
    if text is None:
        return result
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if "text" not in (reader.fieldnames or []):
        result.problems.append(Problem(str(path), 1, "text", f"the header has no 'text' column (found {reader.fieldnames})"))
        return result
    for row in reader:
        cells = {k: restore_cell(v) for k, v in row.items() if k is not None and v not in (None, "")}
        try:
            intents = json.loads(cells["intents"]) if "intents" in cells else [i for i in cells.get("label", "").split("+") if i]
        except json.JSONDecodeError:
            result.problems.append(Problem(str(path), reader.line_num, "intents", f"expected a JSON list, got {quoted(cells['intents'], 60)}"))
            continue
        index = cells.get("turn_index")
        add_record(result, str(path), reader.line_num, {
            "id": cells.get("id"), "conversation_id": cells.get("conversation_id"),
            "turn_index": int(index) if index and index.isdigit() else None, "text": cells.get("text"),
            "intents": intents, "sentiment": cells.get("sentiment"),
        })
    return note_empty(result, Path(path))
