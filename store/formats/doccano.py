"""doccano JSONL ("intent detection and slot filling" projects): ``text``, ``entities`` as
[start, end, label], ``cats`` as intent names; any other key is kept by doccano as metadata, and by the
reader under the record's ``meta`` (reported like a native file's unknown fields).

The reader also takes doccano's other shapes: sequence labelling (``label`` as [start, end, label]
triples, or ``entities`` as objects with ``start_offset``/``end_offset``) and text classification
(``label`` as a list of names). doccano counts offsets in code points, like Concord.
A turn that carries nothing but its response fit is written with ``cats`` and ``entities`` null
(``rows_fit_only`` counts them): empty lists would read as "no intent, no entity" to whatever trains on
the file, while null is "not labelled" (doccano itself imports it as an example without labels), and
leaving the turn out lost its judgement on an export -> import round trip.

A reviewer's corrected response is written as ``corrected_response`` (only on turns that have one):
doccano keeps any key beyond text and labels as the example's metadata and writes it back on export,
and the reader gives it to the importer, which stores it as ``store.import_corrections`` says.

The rest of the native record rides along the same way (``FIELD_KEYS``, ``turn_id`` and ``meta``), and
the reader reads those keys back as fields: without ``context`` two turns with the same text and response
in different conversations ("好的，谢谢！" -> "不客气…") had the same content and the import kept only
one of them. ``meta`` is written without the keys doccano adds to every example itself (``DOCCANO_KEYS``):
doccano writes them anew, and an old project's ``id`` in ``meta`` would clash with the new one on import.
"""
from __future__ import annotations

from pathlib import Path

from store.formats.common import (ExportOptions, FormatReadResult, add_record, jsonl_lines, note_empty,
                                  write_jsonl_objects)
from store.readers import merged_meta, report_unknown_fields
from store.records import Problem, RecordError, fit_only

# Record fields written as keys of their own (doccano metadata) and read back as fields.
FIELD_KEYS = ("conversation_id", "turn_index", "context", "sentiment", "aligned", "response")
CORRECTION = "corrected_response"
DOCCANO_KEYS = ("id", "Comments")   # what doccano's own export adds to each example


def doccano_example(record: dict) -> dict:
    """One JSONL line; a fit-only turn's labels are null, its fit judgement and correction stay."""
    spans = [[s["start"], s["end"], s["label"]] for s in record.get("entities") or []]
    labelled = not fit_only(record)
    out = {"text": record["text"], "entities": spans if labelled else None,
           "cats": list(record.get("intents") or []) if labelled else None, "turn_id": record.get("id")}
    out.update({k: record.get(k) for k in FIELD_KEYS})
    out["meta"] = {k: v for k, v in (record.get("meta") or {}).items() if k not in DOCCANO_KEYS}
    if record.get("corrected_response"):
        out[CORRECTION] = record["corrected_response"]
    return out


def write_doccano(records: list[dict], path: Path, options: ExportOptions | None = None) -> dict:
    return {"rows": write_jsonl_objects(path, (doccano_example(r) for r in records)),
            "rows_fit_only": sum(1 for r in records if fit_only(r))}


def read_doccano(path: Path) -> FormatReadResult:
    result = FormatReadResult()
    for line, obj in jsonl_lines(Path(path), result):
        if not isinstance(obj, dict):
            result.problems.append(Problem(str(path), line, "", f"expected a JSON object, got {type(obj).__name__}"))
            continue
        try:
            spans, names = _labels(obj)
        except (TypeError, ValueError, KeyError) as exc:
            result.problems.append(Problem(str(path), line, "entities", f"expected [start, end, label] triples or objects: {exc}"))
            continue
        raw = {k: obj.get(k) for k in (*FIELD_KEYS, CORRECTION)}
        raw.update(id=obj.get("turn_id") or obj.get("id"), text=obj.get("text") or obj.get("data"),
                   entities=spans, intents=names)
        if raw["id"] is not None:
            raw["id"] = str(raw["id"])
        try:
            raw["meta"] = _metadata(obj, result)
        except RecordError as exc:
            result.problems.append(Problem(str(path), line, exc.field, exc.message))
            continue
        add_record(result, str(path), line, raw)
    report_unknown_fields(result, str(path))
    return note_empty(result, Path(path))


def _metadata(obj: dict, result: FormatReadResult):
    """The line's ``meta`` with every key the reader did not read as a field added to it.

    doccano keeps any key beyond text and labels as the example's metadata (its own export adds ``id``
    and ``Comments``; doccano 1.x wrote them under ``meta``); they are the user's data, so they are kept
    under ``meta`` as ``store.readers`` keeps a native file's unknown fields. A ``meta`` that is no object
    is returned as it is, for ``normalize_turn`` to report."""
    read = {"text", "entities", "cats", "label", "labels", "turn_id", "meta", *FIELD_KEYS, CORRECTION}
    if not obj.get("text"):
        read.add("data")     # the text of older doccano exports
    if not obj.get("turn_id"):
        read.add("id")       # else doccano's own example id, kept as metadata
    meta = obj.get("meta")
    if not isinstance(meta, (dict, type(None))):
        return meta
    return merged_meta(meta, {k: v for k, v in obj.items() if k not in read}, result.kept_fields)


def _labels(obj: dict) -> tuple[list[dict], list[str]]:
    """(spans, category names) from whichever doccano shape the line uses."""
    spans, names = [], list(obj.get("cats") or [])
    items = list(obj.get("entities") or [])
    for item in obj.get("label") or obj.get("labels") or []:
        (names if isinstance(item, str) else items).append(item)
    for item in items:
        if isinstance(item, dict):
            spans.append({"start": item["start_offset"], "end": item["end_offset"], "label": item["label"]})
        else:
            start, end, label = item
            spans.append({"start": start, "end": end, "label": label})
    return spans, names
