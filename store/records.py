"""The native turn record: one user turn, its context, the response that follows, and its labels.

Every importer turns its input into these plain dicts, and every exporter starts from them, so
this module is the single place that says what a valid turn is. It is pure Python (no DuckDB),
which is why the pipeline and the format converters can use it too.

Offsets are Unicode code points (Python ``str`` indices), end exclusive: ``text[start:end]``.
"""
from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

import regex

from store.message_text import GRAPHEME, INVISIBLE_FORMAT, quoted, shown, shown_with_type

SPEAKERS = ("user", "assistant")
TURN_FIELDS = (
    "id", "conversation_id", "turn_index", "context", "text", "response",
    "intents", "entities", "sentiment", "aligned", "meta",
)
LABEL_FIELDS = ("intents", "entities", "sentiment", "aligned")
# Every field a native record may hold: the exports add a reviewer's corrected response when there is one.
RECORD_FIELDS = TURN_FIELDS + ("corrected_response",)
BLANK = regex.compile(r"\p{White_Space}")   # Unicode whitespace: what the span selector's /\s/u trims off a span
MAX_LABEL_CHARS = 100  # a label name is a short identifier; a longer one is a pasted sentence or a broken cell
WORD_CHAR = regex.compile(r"[\p{L}\p{N}\p{M}_]")
# Scripts written without spaces: a word boundary there needs a dictionary, so no edge is judged mid-word.
UNSPACED_SCRIPT = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")


class RecordError(ValueError):
    """A field of one record is invalid; ``field`` names it (dotted path, e.g. ``entities[2].end``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One error in an input file, located precisely enough to fix it by hand."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


def _as_str(value: Any, field: str, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN from pandas
        if required:
            raise RecordError(field, "is required")
        return None
    if not isinstance(value, str):  # a number is not text: 12345 in "text" is a broken export, not a turn
        raise RecordError(field, f"expected a string, got {shown_with_type(value)}")
    return value


def _as_id(value: Any, field: str, *, required: bool = False) -> str | None:
    """Ids may be integers: Label Studio task ids, database keys and numbered Parquet columns are. They
    are stored as their decimal text, so 17 and "17" are one id. Booleans and floats are refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    try:
        return _as_str(value, field, required=required)
    except RecordError:
        raise RecordError(field, f"expected a string or an integer, got {shown_with_type(value)}") from None


def label_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a label name, or None. Label names become schema rows, keyboard-labelled
    buttons and export columns: a newline, a control character, surrounding blanks or a paragraph there
    is a broken input (a CSV cell whose quote ran on), never a label someone meant to create."""
    if not name.strip():
        return "a label name is empty"
    bad = next((ch for ch in name if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in INVISIBLE_FORMAT), None)
    if bad is not None:
        return f"label name {quoted(name, 60)} contains a control character ({quoted(bad)})"
    if name != name.strip():
        return f"label name {quoted(name, 60)} has leading or trailing whitespace"
    if len(name) > MAX_LABEL_CHARS:
        return f"label name {quoted(name, 40)} is {len(name)} characters long; at most {MAX_LABEL_CHARS}"
    return None


def _label_name(value: Any, field: str) -> str:
    """``value`` as a valid label name, or a ``RecordError`` naming ``field``."""
    if not isinstance(value, str) or not value:
        raise RecordError(field, f"expected a non-empty string, got {shown(value)}")
    problem = label_name_problem(value)
    if problem:
        raise RecordError(field, problem)
    return value


def _parse_intents(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [_label_name(value, "intents")] if value else []
    if not isinstance(value, (list, tuple)):
        raise RecordError("intents", f"expected a list of strings, got {type(value).__name__}")
    out: list[str] = []
    for i, item in enumerate(value):
        item = _label_name(item, f"intents[{i}]")
        if item not in out:
            out.append(item)
    return out


def _parse_entities(value: Any, text: str, trimmed: list | None) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise RecordError("entities", f"expected a list of spans, got {type(value).__name__}")
    spans, clusters = [], None
    for i, span in enumerate(value):
        field = f"entities[{i}]"
        if not isinstance(span, dict):
            raise RecordError(field, f"expected an object with start, end, label, got {type(span).__name__}")
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        for name, v in (("start", start), ("end", end)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise RecordError(f"{field}.{name}", f"expected an integer code-point offset, got {shown(v)}")
        _label_name(label, f"{field}.label")
        if start > end:
            raise RecordError(field, f"start {start} is after end {end}")
        if start == end:
            raise RecordError(field, f"span [{start}, {end}) is empty (start equals end)")
        if not 0 <= start < end <= len(text):
            raise RecordError(field, f"span [{start}, {end}) is not inside the text (length {len(text)} code points)")
        if "text" in span and span["text"] is not None and span["text"] != text[start:end]:
            raise RecordError(f"{field}.text", f"span says {shown(span['text'])} but text[{start}:{end}] is "
                                               f"{quoted(text[start:end])}")
        clusters = clusters if clusters is not None else _cut_clusters(text)
        for name, offset in (("start", start), ("end", end)):
            if offset in clusters:
                a, b = clusters[offset]
                raise RecordError(f"{field}.{name}", f"offset {offset} cuts the character "
                                  f"{quoted(text[a:b])} (code points [{a}, {b})) in two: "
                                  "a span starts and ends between whole characters")
        kept = _without_blank_edges(text, start, end, clusters, field)
        if kept != (start, end) and trimmed is not None:
            trimmed.append({"field": field, "label": label, "start": start, "end": end, "text": text[start:end], "kept": kept})
        spans.append({"start": kept[0], "end": kept[1], "label": label})
    spans.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    return spans


def _without_blank_edges(text: str, start: int, end: int, cut: dict, field: str) -> tuple[int, int]:
    """[start, end) without the whitespace at its edges, as the span selector stores a selection
    (``TextModel.trimmed``), so an imported " 4" or "people " is the span an annotator would draw.

    Whole characters only: a space that carries a combining mark is kept, as the browser keeps it. A span
    of nothing but whitespace is an error: it marks no text, and the browser cannot store it."""
    a, b = start, end
    while a < b and BLANK.match(text, a):
        a += 1
    if a == b:
        raise RecordError(field, f"span [{start}, {end}) {quoted(text[start:end])} is only whitespace")
    while BLANK.match(text, b - 1):
        b -= 1
    return cut[a][0] if a in cut else a, cut[b][1] if b in cut else b


def _cut_clusters(text: str) -> dict[int, tuple[int, int]]:
    """Offset -> the grapheme cluster [a, b) it falls inside, for every offset that is no cluster boundary.

    An annotator sees user-perceived characters: a span ending inside 👨‍👩‍👧 (a ZWJ sequence) or between
    "e" and its combining accent cannot be drawn in the span selector and shows a broken character in
    every export, so an import refuses it as the browser does."""
    return {offset: (m.start(), m.end()) for m in GRAPHEME.finditer(text) if m.end() - m.start() > 1
            for offset in range(m.start() + 1, m.end())}


def overlapping_spans(spans: Iterable[dict]) -> list[tuple[dict, dict]]:
    """Pairs of spans that share at least one code point, each pair in text order.

    Annotators label in NER mode (a label replaces what it overlaps), so a submit must not hold
    such pairs; imported data may (nested entities from other tools), which is why
    ``normalize_turn`` keeps accepting them and only exporters that cannot hold them report them.
    """
    ordered = sorted(spans, key=lambda s: (s["start"], s["end"], s["label"]))
    pairs = []
    for i, left in enumerate(ordered):
        for right in ordered[i + 1:]:
            if right["start"] >= left["end"]:
                break
            pairs.append((left, right))
    return pairs


def spans_overlap(a: dict, b: dict) -> bool:
    """Whether two spans share at least one code point."""
    return a["start"] < b["end"] and b["start"] < a["end"]


def describe_overlaps(pairs: list[tuple[dict, dict]], *, limit: int = 3) -> str:
    """``overlapping_spans`` pairs for a message: 'order_id [10, 13) and product [10, 13); ...'."""
    return "; ".join(f"{a['label']} [{a['start']}, {a['end']}) and {b['label']} [{b['start']}, {b['end']})"
                     for a, b in pairs[:limit])


def _parse_context(value: Any) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise RecordError("context", f"expected a list of {{speaker, text}}, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise RecordError(f"context[{i}]", "expected an object with speaker and text")
        speaker = item.get("speaker")
        if speaker not in SPEAKERS:
            raise RecordError(f"context[{i}].speaker", f"expected one of {list(SPEAKERS)}, got {shown(speaker)}")
        text = item.get("text")
        if not isinstance(text, str):
            raise RecordError(f"context[{i}].text", f"expected a string, got {type(text).__name__}")
        out.append({"speaker": speaker, "text": text})
    return out


def _parse_aligned(value: Any) -> bool | None:
    """JSON has booleans, so only they count: "yes", 1 or "false" are guesses we refuse to make.
    CSV cells are strings and go through ``store.readers.aligned_from_cell`` first."""
    if value is None or isinstance(value, bool):
        return value
    raise RecordError("aligned", f"expected true, false or null, got {shown(value)}")


def _parse_meta(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError("meta", f"expected an object, got {shown_with_type(value)}")
    return value


def _parse_sentiment(value: Any) -> str | None:
    value = _as_str(value, "sentiment")
    return _label_name(value, "sentiment") if value else None


def _parse_turn_index(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError("turn_index", f"expected a non-negative integer, got {shown(value)}")
    return value


def normalize_turn(obj: Any, trimmed: list | None = None) -> dict:
    """Validate one native record and return it with every field present and typed
    (``corrected_response`` only when the record has one).

    Only ``text`` is required. Raises ``RecordError`` naming the first bad field. Entity spans lose the
    whitespace at their edges; ``trimmed`` (if given) gets one dict per span that did, for the import report.
    """
    if not isinstance(obj, dict):
        raise RecordError("", f"expected a JSON object, got {type(obj).__name__}")
    text = _as_str(obj.get("text"), "text", required=True)
    if not text.strip():
        raise RecordError("text", "is empty")
    meta = _parse_meta(obj.get("meta"))
    record = {
        "id": _as_id(obj.get("id"), "id"),
        "conversation_id": _as_id(obj.get("conversation_id"), "conversation_id"),
        "turn_index": _parse_turn_index(obj.get("turn_index")),
        "context": _parse_context(obj.get("context")),
        "text": text,
        "response": _as_str(obj.get("response"), "response"),
        "intents": _parse_intents(obj.get("intents")),
        "entities": _parse_entities(obj.get("entities"), text, trimmed),
        "sentiment": _parse_sentiment(obj.get("sentiment")),
        "aligned": _parse_aligned(obj.get("aligned")),
        "meta": meta,
    }
    corrected = _as_str(obj.get("corrected_response"), "corrected_response")
    if corrected:   # only when given: the exports write it only then, and records without one stay as they were
        record["corrected_response"] = corrected
    return record


RESPONSE_META = "response_meta"   # the meta key that holds the fields of the assistant turn answering a user turn


def assistant_fields(turn: dict, index: int) -> dict:
    """An assistant turn's fields beyond speaker and text (its ``meta`` merged in), nulls left out.

    The turn becomes the ``response`` (a plain string) of the user turn before it, so these (the model
    that wrote it, a dialog act) have no column: that user turn keeps them under ``meta.response_meta``,
    as it keeps its own unknown fields under ``meta``."""
    meta = turn.get("meta")
    fields = dict(meta) if isinstance(meta, dict) else {}
    for key, value in turn.items():
        if key in ("speaker", "text") or value is None or (key == "meta" and isinstance(value, dict)):
            continue
        if fields.get(key, value) != value:
            raise RecordError(f"turns[{index}].{key}", f"the turn's meta already has another {quoted(key)}: rename one of them")
        fields[key] = value
    return fields


def expand_conversation(obj: Any) -> list[dict]:
    """Turn a conversation-level record into native user-turn records (not yet normalized).

    Each user turn gets the earlier turns as context and the next assistant turn as its response; its
    other keys are passed on as they are (``store.readers`` keeps unknown ones under ``meta``), and
    the response's own fields go under ``meta.response_meta`` (``assistant_fields``).
    """
    conv_id = _as_id(obj.get("conversation_id"), "conversation_id", required=True)
    turns = obj.get("turns")
    if not isinstance(turns, list) or not turns:
        raise RecordError("turns", "expected a non-empty list of {speaker, text, ...}")
    records, history = [], []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("speaker") not in SPEAKERS:
            raise RecordError(f"turns[{i}].speaker", f"expected one of {list(SPEAKERS)}")
        if not isinstance(turn.get("text"), str):
            raise RecordError(f"turns[{i}].text", "expected a string")
        if turn["speaker"] == "user":
            nxt = turns[i + 1] if i + 1 < len(turns) else None
            response = nxt["text"] if isinstance(nxt, dict) and nxt.get("speaker") == "assistant" else None
            rec = {k: v for k, v in turn.items() if k not in ("speaker", "context", "response")}
            rec.update(conversation_id=conv_id, turn_index=i, context=list(history), response=response)
            rec.setdefault("id", f"{conv_id}:{i}")
            extra = assistant_fields(nxt, i + 1) if response is not None else {}
            if extra and isinstance(rec.get("meta"), (dict, type(None))):   # another meta: normalize_turn reports it
                if RESPONSE_META in (rec.get("meta") or {}):
                    raise RecordError(f"turns[{i}].meta.{RESPONSE_META}", "is where the response's fields go: rename it")
                rec["meta"] = {**(rec.get("meta") or {}), RESPONSE_META: extra}
            records.append(rec)
        history.append({"speaker": turn["speaker"], "text": turn["text"]})
    return records


def content_hash(record: dict) -> str:
    """A stable hash of what a turn *is* (context, text, response), used to spot duplicates."""
    payload = json.dumps(
        [record.get("context") or [], record["text"], record.get("response")],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def has_labels(record: dict) -> bool:
    return bool(record.get("intents") or record.get("entities") or record.get("sentiment")
                or record.get("aligned") is not None)


def fit_only(record: dict) -> bool:
    """The turn carries no label but (at most) its response fit: nobody labelled its intents, entities or
    sentiment. An analyst's one-click fit judgement on an unlabelled turn stores exactly that, so such a
    turn is an alignment example (chat, DPO) and no intent, entity or sentiment example."""
    return not (record.get("intents") or record.get("entities") or record.get("sentiment")
                or (record.get("meta") or {}).get("no_intent"))


def intent_labelled(record: dict, multi_label: bool) -> bool:
    """Whether the turn is an intent example: the one rule the models train by and the exports write by.
    Single-label: the turn has an intent. Multi-label: an empty intent list also says "no intent applies"
    when the turn carries other labels (or ``meta.no_intent``); on a turn judged only for its response fit
    (or resolved with nothing picked) it says nothing about intents."""
    if record.get("intents"):
        return True
    return multi_label and not fit_only(record)


def dump_jsonl_line(record: dict) -> str:
    """Serialize a record as one JSONL line: UTF-8 text kept as is, keys in the native order."""
    ordered = {k: record.get(k) for k in TURN_FIELDS if k in record}
    ordered.update({k: v for k, v in record.items() if k not in ordered})
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(path, records: Iterable[dict]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(dump_jsonl_line(rec) + "\n")
            n += 1
    return n
