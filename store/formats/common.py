"""Helpers every format module shares: deterministic writers, CSV formula neutralising, reading.

Exporters must give byte-identical files for the same input, so everything here writes with fixed
separators, ``\\n`` line ends and UTF-8 kept as is. Readers collect problems (file:line:field) and
warnings (things fixed on the way in, e.g. UTF-16 offsets) instead of stopping at the first.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from store.readers import ReadResult
from store.records import Problem, RecordError, normalize_turn

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class FormatReadResult(ReadResult):
    """A ``ReadResult`` whose warnings may be located: input that was understood but had to be fixed
    (a ``Problem``), or a per-file note such as ``store.readers.report_unknown_fields`` writes (a string)."""

    warnings: list[Problem | str] = field(default_factory=list)


def neutralise_cell(value: str) -> str:
    """Prefix ``'`` so a spreadsheet shows the cell as text instead of running it as a formula.

    Cells that already start with quotes before a trigger get one more quote, so that
    ``restore_cell`` can undo exactly what was done (the mapping is one-to-one).
    """
    return "'" + value if value.lstrip("'").startswith(FORMULA_TRIGGERS) else value


def restore_cell(value: str) -> str:
    """Undo ``neutralise_cell``."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def dumps(obj: Any) -> str:
    """Compact JSON with UTF-8 text kept as is: the one serialisation every JSON exporter uses."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def write_jsonl_objects(path: Path, objects: Iterable[dict]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for obj in objects:
            f.write(dumps(obj) + "\n")
            n += 1
    return n


def write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def add_record(result: ReadResult, file: str, line: int, raw: dict) -> bool:
    """Validate one raw record into ``result``; a ``RecordError`` becomes a located problem, and a span
    that lost the whitespace at its edges is noted (``ReadResult.trimmed_spans``) for the import report."""
    trimmed: list[dict] = []
    try:
        result.records.append(normalize_turn(raw, trimmed))
    except RecordError as exc:
        result.problems.append(Problem(file, line, exc.field, exc.message))
        return False
    result.origins.append((file, line))
    result.trimmed_spans += [{**span, "file": file, "line": line} for span in trimmed]
    return True


def read_utf8(path: Path, result: ReadResult) -> str | None:
    """The file's text, or None with a problem recorded (missing, empty, not UTF-8)."""
    name = str(path)
    if not path.is_file():
        result.problems.append(Problem(name, 0, "", "no such file"))
        return None
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        result.problems.append(Problem(name, line, "", f"invalid UTF-8 at byte {exc.start}; save the file as UTF-8"))
        return None
    if not text.strip():
        result.problems.append(Problem(name, 0, "", "the file is empty"))
        return None
    return text


def jsonl_lines(path: Path, result: ReadResult) -> Iterable[tuple[int, Any]]:
    """Yield (line number, parsed JSON) for each non-blank line; bad JSON becomes a problem."""
    text = read_utf8(path, result)
    if text is None:
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(str(path), number, "", f"not valid JSON: {exc.msg} at column {exc.colno}"))


def note_empty(result: ReadResult, path: Path) -> FormatReadResult:
    """Say so when a readable file held no turns at all (a wrong format is the usual cause)."""
    if not result.records and not result.problems:
        result.problems.append(Problem(str(path), 0, "", "the file holds no turns"))
    return result


def sort_records(records: Iterable[dict]) -> list[dict]:
    """The one record order every export uses: by conversation, then turn index, then id."""
    def key(r: dict):
        index = r.get("turn_index")
        return (r.get("conversation_id") or r.get("id") or "", -1 if index is None else index, r.get("id") or "", r["text"])
    return sorted(records, key=key)


def response_for_training(record: dict) -> str | None:
    """The response a model should learn from: the correction when there is one, else the original."""
    return record.get("corrected_response") or record.get("response")


@dataclass(frozen=True)
class ExportOptions:
    """What some formats need beyond the records; every field has a safe default.

    ``schema`` is the project's label schema (``labels.get_schema``): class-label lists come from it
    so label ids are stable across exports. ``tokenizer`` names the tokenizer whose word boundaries
    token-classification exports follow. ``align_threshold``: chat/DPO exports also count a turn as
    aligned when no human judged it and the model's alignment score is at least this.
    """

    schema: dict | None = None
    tokenizer: str | None = None
    align_threshold: float | None = None
    system_prompt: str | None = None
    hf_layout: str = "auto"  # auto | disk (datasets.save_to_disk) | parquet
    # Whether the set's intents are multi-label (some turn has two or more); None: decide from the records
    # a writer gets. ``export_records`` fixes it over all splits, so every split follows the same rule.
    multi_label: bool | None = None
    # Labelled turns that exported turns' contexts can quote (all of the project's, not only those
    # passing the filters): the chat export looks up each history response's fit judgement here.
    history: tuple[dict, ...] = ()


def schema_names(options: ExportOptions, kind: str, records: list[dict]) -> list[str]:
    """Label names of one kind in schema order, plus any the records use that the schema lacks (sorted)."""
    listed = list((options.schema or {}).get(kind) or [])
    used: set[str] = set()
    for r in records:
        if kind == "intents":
            used.update(r.get("intents") or [])
        elif kind == "entities":
            used.update(s["label"] for s in r.get("entities") or [])
        elif kind == "sentiments" and r.get("sentiment"):
            used.add(r["sentiment"])
    return listed + sorted(used - set(listed))


def is_multi_label(records: list[dict], options: ExportOptions | None = None) -> bool:
    """The set's intents are multi-label when some turn carries two or more (``options.multi_label`` wins)."""
    if options is not None and options.multi_label is not None:
        return options.multi_label
    return any(len(r.get("intents") or []) > 1 for r in records)


def is_aligned(record: dict, threshold: float | None) -> bool | None:
    """The human judgement, else the model's score against ``threshold`` when one is given."""
    if record.get("aligned") is not None:
        return bool(record["aligned"])
    score = (record.get("prediction") or {}).get("alignment_score")
    if threshold is None or score is None:
        return None
    return score >= threshold
