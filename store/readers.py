"""Read input files into validated native turn records, collecting every problem with file:line:field.

Nothing here touches the database: reading is done in full first, so a file with any problem can
be rejected before a single row is written (all or nothing). Pure Python plus pyarrow for Parquet.
"""
from __future__ import annotations

import csv
import difflib
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from store.message_text import quoted
from store.records import RECORD_FIELDS, RESPONSE_META, Problem, RecordError, expand_conversation, normalize_turn

MAX_LINE_BYTES = 1 << 20  # 1 MiB: a dialog turn is never this long; a 10 MB line is a broken file
FORMATS = ("auto", "jsonl", "csv", "parquet")
LIST_COLUMNS = ("context", "intents", "entities", "meta")
FLAT_FIELDS = RECORD_FIELDS + ("turns",)                # "turns" makes a record a whole conversation
CONVERSATION_FIELDS = ("conversation_id", "turns")
CONVERSATION_TURN_FIELDS = RECORD_FIELDS + ("speaker",)


@dataclass
class ReadResult:
    """Records read from one or more files, with where each came from, and the problems found."""

    records: list[dict] = field(default_factory=list)
    origins: list[tuple[str, int]] = field(default_factory=list)  # (file, line) per record
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # converted but worth telling (e.g. UTF-16 offsets fixed)
    kept_fields: Counter = field(default_factory=Counter)      # unknown field -> records it went to meta in
    dropped_fields: Counter = field(default_factory=Counter)   # unknown conversation-level field -> records
    response_fields: Counter = field(default_factory=Counter)  # assistant-turn field -> responses it went to meta of
    unanswering_fields: Counter = field(default_factory=Counter)  # ... of assistant turns that answer no user turn
    trimmed_spans: list[dict] = field(default_factory=list)   # spans that lost edge whitespace, with file and line

    @property
    def ok(self) -> bool:
        return not self.problems


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"{path}: cannot tell the format from the extension {quoted(suffix)}; pass --format")


def read_files(paths: list[str | Path], *, fmt: str = "auto") -> ReadResult:
    """Read every file; problems from all of them are collected, none stops the others."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    result = ReadResult()
    for raw_path in paths:
        path = Path(raw_path)
        name = str(raw_path)
        if not path.is_file():
            result.problems.append(Problem(name, 0, "", "no such file"))
            continue
        try:
            kind = detect_format(path) if fmt == "auto" else fmt
        except ValueError as exc:
            result.problems.append(Problem(name, 0, "", str(exc).split(": ", 1)[1]))
            continue
        before = len(result.records)
        for line, obj, problem in _raw_objects(path, kind):
            if problem is not None:
                result.problems.append(Problem(name, line, problem[0], problem[1]))
                continue
            _add_object(result, name, line, obj)
        if len(result.records) == before and not any(p.file == name for p in result.problems):
            result.problems.append(Problem(name, 0, "", "the file holds no turns"))
        report_unknown_fields(result, name)
    return result


def report_unknown_fields(result: ReadResult, name: str) -> None:
    """One warning per file for the fields it had that Concord does not know (counted per record)."""
    def listed(counts: Counter, unit: str = "record") -> str:
        return ", ".join(f"{quoted(key)} ({n} {unit}{'s' if n != 1 else ''})" for key, n in counts.most_common())

    if result.kept_fields:
        result.warnings.append(f"{name}: fields Concord does not know were kept under meta: {listed(result.kept_fields)}")
    if result.dropped_fields:
        result.warnings.append(f"{name}: conversation-level fields Concord does not know were not imported: "
                               f"{listed(result.dropped_fields)}")
    if result.response_fields:
        result.warnings.append(f"{name}: fields of assistant turns were kept under meta.{RESPONSE_META} of the user "
                               f"turn they answer: {listed(result.response_fields, 'turn')}")
    if result.unanswering_fields:
        result.warnings.append(f"{name}: fields of assistant turns that answer no user turn (e.g. an opening greeting) "
                               f"were not imported: {listed(result.unanswering_fields, 'turn')}")
    result.kept_fields, result.dropped_fields = Counter(), Counter()
    result.response_fields, result.unanswering_fields = Counter(), Counter()


def misspelt_field(key: str, known: tuple[str, ...]) -> str | None:
    """The known field ``key`` probably misspells ("intnets", "Text", "conversationId"), or None.

    A close difflib match counts only when it is word for word close: "turn_id" and "response_id" are
    fields of their own (0.82 and 0.84 alike to "turn_index" and "response"), not slips."""
    def folded(name: str) -> str:
        return "".join(ch for ch in name.casefold() if ch.isalnum())

    if key in known:
        return None
    same = [name for name in known if folded(name) == folded(key)]
    if same:
        return same[0]
    match = difflib.get_close_matches(key.casefold(), known, n=1, cutoff=0.8)
    if not match:
        return None
    words, target = key.casefold().split("_"), match[0].split("_")
    if len(words) != len(target):
        return None
    close = all(difflib.SequenceMatcher(None, a, b).ratio() >= 0.6 for a, b in zip(words, target))
    return match[0] if close else None


def _typo_problems(keys, known: tuple[str, ...], prefix: str = "") -> list[tuple[str, str]]:
    return [(prefix + key, f"unknown field {quoted(key)}; did you mean {quoted(meant)}?")
            for key in keys if isinstance(key, str) and (meant := misspelt_field(key, known))]


def _record_typos(obj: dict) -> list[tuple[str, str]]:
    """(field, message) for every key of a record (or of a conversation and its turns) that looks misspelt."""
    if "turns" not in obj:
        return _typo_problems(obj, FLAT_FIELDS)
    problems = _typo_problems(obj, CONVERSATION_FIELDS)
    for i, turn in enumerate(obj["turns"] if isinstance(obj["turns"], list) else []):
        if isinstance(turn, dict):
            problems += _typo_problems(turn, CONVERSATION_TURN_FIELDS, f"turns[{i}].")
    return problems


def _keep_unknown_in_meta(raw, kept: Counter):
    """``raw`` with the fields Concord does not know moved under ``meta`` (``merged_meta``)."""
    extra = {k: v for k, v in raw.items() if k not in RECORD_FIELDS} if isinstance(raw, dict) else {}
    meta = raw.get("meta") if extra else None
    if not extra or not isinstance(meta, (dict, type(None))):
        return raw          # nothing to keep, or a meta that normalize_turn reports
    return {**{k: v for k, v in raw.items() if k in RECORD_FIELDS}, "meta": merged_meta(meta, extra, kept)}


def merged_meta(meta: dict | None, extra: dict, kept: Counter) -> dict:
    """``meta`` with the fields Concord does not know (``extra``) added, counted in ``kept``; a null is dropped.

    They are somebody's data (a source system, a ticket number): dropping them silently loses it, and
    keeping them as meta carries them through every export that writes meta. Every reader that meets
    such fields (this one, ``store.formats.doccano``) keeps them here, and ``report_unknown_fields`` says so."""
    merged = dict(meta or {})
    for key, value in extra.items():
        if value is None:
            continue
        if key in merged and merged[key] != value:
            raise RecordError(key, f"is not a Concord field, and meta already has another {quoted(key)}: "
                                   "rename one of them")
        merged[key] = value
        kept[key] += 1
    return merged


def unicode_problem(obj) -> tuple[str, str] | None:
    """(field, message) for the first string that is not storable Unicode text: lone UTF-16
    surrogates (from ``\\ud800`` escapes) or NUL characters. Iterative, so deep nesting is fine."""
    stack = [("", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path, "contains a NUL character"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                return path, f"contains a lone UTF-16 surrogate ({value[exc.start]!r}) that is not valid Unicode text"
        elif isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
            stack.extend((f"{path}.<key>" if path else "<key>", k) for k in value)
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return None


def _add_object(result: ReadResult, name: str, line: int, obj) -> None:
    bad = unicode_problem(obj)
    if bad is not None:
        result.problems.append(Problem(name, line, *bad))
        return
    typos = _record_typos(obj) if isinstance(obj, dict) else []
    if typos:
        result.problems.extend(Problem(name, line, where, message) for where, message in typos)
        return
    conversation = isinstance(obj, dict) and "turns" in obj
    trimmed: list[dict] = []
    try:
        raws = expand_conversation(obj) if conversation else [obj]
        records = [normalize_turn(_keep_unknown_in_meta(raw, result.kept_fields), trimmed) for raw in raws]
    except RecordError as exc:
        result.problems.append(Problem(name, line, exc.field, exc.message))
        return
    result.trimmed_spans += [{**span, "file": name, "line": line} for span in trimmed]
    result.records += records
    result.origins += [(name, line)] * len(records)
    if conversation:
        result.dropped_fields.update(k for k in obj if k not in CONVERSATION_FIELDS)
        _count_assistant_fields(result, obj["turns"])


def _count_assistant_fields(result: ReadResult, turns: list) -> None:
    """Count the assistant turns' own fields: kept with the user turn they answer, or not imported."""
    for i, turn in enumerate(turns):
        if turn["speaker"] == "assistant":
            answers = i > 0 and turns[i - 1]["speaker"] == "user"
            counts = result.response_fields if answers else result.unanswering_fields
            counts.update(k for k, v in turn.items() if k not in ("speaker", "text") and v is not None)


def _strip_bom(data: bytes) -> tuple[bytes, str | None]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:], None  # a UTF-8 BOM is harmless; strip it silently
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data, "the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"
    return data, None


def _bad_utf8(data: bytes, exc: UnicodeDecodeError) -> str:
    return f"invalid UTF-8 at byte {exc.start} ({data[exc.start:exc.start + 1]!r}); save the file as UTF-8"


def _raw_objects(path: Path, kind: str) -> Iterator[tuple[int, object, tuple[str, str] | None]]:
    """Yield (line, object, None) or (line, None, (field, message)) for each record in the file."""
    if kind == "parquet":
        yield from _parquet_objects(path)
        return
    data = path.read_bytes()
    if not data.strip():
        yield 0, None, ("", "the file is empty")
        return
    data, problem = _strip_bom(data)
    if problem:
        yield 1, None, ("", problem)
        return
    if kind == "jsonl":
        yield from _jsonl_objects(data)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield data.count(b"\n", 0, exc.start) + 1, None, ("", _bad_utf8(data, exc))
        return
    yield from _csv_objects(text, path)


def _jsonl_objects(data: bytes):
    """Each line is decoded on its own, so one bad line is reported without hiding the others."""
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            yield number, None, ("", f"line is {len(raw):,} bytes, over the {MAX_LINE_BYTES:,}-byte limit for one turn")
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, ("", _bad_utf8(raw, exc).replace("at byte", "at column"))
            continue
        try:
            yield number, json.loads(line), None
        except json.JSONDecodeError as exc:
            yield number, None, ("", f"not valid JSON: {exc.msg} at column {exc.colno}")
        except RecursionError:
            yield number, None, ("", "JSON nested too deeply")


def _csv_objects(text: str, path: Path):
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    typos = _typo_problems(reader.fieldnames or [], FLAT_FIELDS)
    if typos:
        yield from ((1, None, problem) for problem in typos)
        return
    if not reader.fieldnames or "text" not in reader.fieldnames:
        yield 1, None, ("text", f"the header has no 'text' column (found {_names(reader.fieldnames or [])})")
        return
    end = reader.line_num
    for row in reader:
        line, end = end + 1, reader.line_num   # the row's first line: a cell with an open quote runs on
        if None in row:
            yield line, None, ("", f"row has {len(row) - 1 + len(row[None])} cells, the header has {len(reader.fieldnames)}")
            continue
        obj, problem = _decode_cells(row)
        yield line, obj, problem


def _names(columns: list[str]) -> str:
    """Column names for a message, each quoted with its characters: 'Text', '文本'."""
    return ", ".join(quoted(str(name)) for name in columns) or "no columns"


ALIGNED_CELLS = {"true": True, "aligned": True, "1": True, "false": False, "misaligned": False, "0": False}


def aligned_from_cell(value: str) -> bool:
    """A CSV (or string Parquet) cell's alignment: true/false, aligned/misaligned or 1/0, any case."""
    key = value.strip().lower()
    if key not in ALIGNED_CELLS:
        raise RecordError("aligned", f"expected true, false, aligned, misaligned, 1 or 0, got {quoted(value)}")
    return ALIGNED_CELLS[key]


def _decode_cells(row: dict) -> tuple[dict | None, tuple[str, str] | None]:
    """CSV cells are strings: decode list columns from JSON, blanks to None, aligned/turn_index typed."""
    obj: dict = {}
    for key, value in row.items():
        if value is None or value == "":
            obj[key] = None
        elif key in LIST_COLUMNS:
            try:
                obj[key] = json.loads(value)
            except json.JSONDecodeError as exc:
                if key != "intents" or value.lstrip().startswith(("[", "{")):
                    return None, (key, _bad_json_cell(value, exc))
                obj[key] = [value]  # a bare intent name is common in CSV (checked as a label name later)
        elif key == "turn_index":
            if not value.strip().isdigit():
                return None, (key, f"expected a non-negative integer, got {quoted(value)}")
            obj[key] = int(value)
        elif key == "aligned":
            try:
                obj[key] = aligned_from_cell(value)
            except RecordError as exc:
                return None, (exc.field, exc.message)
        else:
            obj[key] = value
    return obj, None


def _bad_json_cell(value: str, exc: json.JSONDecodeError) -> str:
    """Why a cell meant as JSON is refused. One that starts like JSON is never taken as a bare name:
    '["refund"' would become a label with a bracket and a quote in it."""
    message = f"expected JSON in this cell ({exc.msg} at character {exc.pos + 1}), got {quoted(value, 60)}"
    if "\n" in value:
        message += f"; the cell runs over {value.count(chr(10)) + 1} lines: is a quote left open?"
    return message


def _parquet_objects(path: Path):
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        yield 0, None, ("", f"not a readable Parquet file: {exc}")
        return
    typos = _typo_problems(table.column_names, FLAT_FIELDS)
    if typos:
        yield from ((0, None, problem) for problem in typos)
        return
    if "text" not in table.column_names:
        yield 0, None, ("text", f"no 'text' column (found {_names(table.column_names)})")
        return
    pandas_index = [name for name in table.column_names if name.startswith("__index_level_")]
    table = table.drop_columns(pandas_index)   # the DataFrame index pandas saved: not data of the turns
    for number, row in enumerate(table.to_pylist(), start=1):
        if isinstance(row.get("aligned"), str):  # a string column, as pandas writes a CSV it read
            try:
                row["aligned"] = aligned_from_cell(row["aligned"]) if row["aligned"].strip() else None
            except RecordError as exc:
                yield number, None, (exc.field, exc.message)
                continue
        for key in LIST_COLUMNS:
            if isinstance(row.get(key), str):
                try:
                    row[key] = json.loads(row[key])
                except json.JSONDecodeError:
                    yield number, None, (key, "expected JSON in this string column")
                    break
        else:
            yield number, row, None
