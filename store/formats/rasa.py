"""Rasa NLU training data (YAML, format 3.1): ``[value](entity)`` markup, multi-intent as ``a+b``.

Rasa carries text, intents and entities only. A turn Rasa cannot hold is left out and counted:
no intent, a line break or a character YAML forbids in the text, or markup that would not read
back as the same text and spans (e.g. the text itself contains ``[x](y)``). Overlapping spans
cannot be marked up; the later ones are dropped and counted.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from store.formats.common import ExportOptions, FormatReadResult, add_record, note_empty, read_utf8, write_text
from store.message_text import shown
from store.records import Problem

RASA_VERSION = "3.1"
MULTI_INTENT_SEPARATOR = "+"  # Rasa's default intent_split_symbol for multi-intent classification
# Rasa's own markup grammar: [text](entity) / [text](entity:value) / [text]{json} / [text][json list].
ENTITY = re.compile(
    r"\[(?P<text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)|\{(?P<dict>[^}]+?)\}|\[(?P<list>.*?)\])")
UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")


def markup(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """``text`` with entity markup; returns (line, the spans marked up: overlapping ones are left out)."""
    parts, kept, position = [], [], 0
    for span in entities:
        if span["start"] < position:
            continue
        parts += [text[position:span["start"]], f"[{text[span['start']:span['end']]}]({span['label']})"]
        kept.append(span)
        position = span["end"]
    parts.append(text[position:])
    return "".join(parts), kept


def parse_example(line: str) -> tuple[str, list[dict]]:
    """Plain text and code-point spans from one Rasa example line (the inverse of ``markup``)."""
    parts, spans, position, length = [], [], 0, 0
    for match in ENTITY.finditer(line):
        before = line[position:match.start()]
        parts.append(before)
        length += len(before)
        value = match.group("text")
        for label in _labels(match):
            spans.append({"start": length, "end": length + len(value), "label": label})
        parts.append(value)
        length += len(value)
        position = match.end()
    parts.append(line[position:])
    return "".join(parts), spans


def _labels(match: re.Match) -> list[str]:
    if match.group("entity"):
        return [match.group("entity")]
    raw = match.group("dict")
    items = [json.loads("{" + raw + "}")] if raw is not None else json.loads("[" + match.group("list") + "]")
    return [item["entity"] for item in items if isinstance(item, dict) and item.get("entity")]


def _reads_back(line: str, text: str, spans: list[dict]) -> bool:
    try:
        return parse_example(line) == (text, spans)
    except (json.JSONDecodeError, TypeError, AttributeError):
        return False


def to_rasa_yaml(records: list[dict]) -> tuple[str, dict]:
    """Rasa NLU YAML for the records, grouped by intent (sorted); returns (yaml, what was left out)."""
    groups: dict[str, list[str]] = {}
    stats = {"rows": 0, "rows_without_intent": 0, "rows_not_expressible": 0, "spans_dropped_overlap": 0}
    for record in records:
        if not record.get("intents"):
            stats["rows_without_intent"] += 1
            continue
        line, kept = markup(record["text"], record.get("entities") or [])
        if UNSAFE.search(record["text"]) or not _reads_back(line, record["text"], kept):
            stats["rows_not_expressible"] += 1
            continue
        stats["spans_dropped_overlap"] += len(record.get("entities") or []) - len(kept)
        stats["rows"] += 1
        groups.setdefault(MULTI_INTENT_SEPARATOR.join(record["intents"]), []).append(line)
    out = [f'version: "{RASA_VERSION}"', "nlu:" if groups else "nlu: []"]
    for intent in sorted(groups):
        out += [f"- intent: {json.dumps(intent, ensure_ascii=False)}", "  examples: |"]
        out += [f"    - {line}" for line in groups[intent]]
    return "\n".join(out) + "\n", stats


def write_rasa(records: list[dict], path: Path, options: ExportOptions | None = None) -> dict:
    text, stats = to_rasa_yaml(records)
    write_text(path, text)
    return stats


def read_rasa(path: Path) -> FormatReadResult:
    """Read the ``nlu`` intents of a Rasa YAML file (synonyms, regexes, lookups are skipped)."""
    result, name = FormatReadResult(), str(path)
    text = read_utf8(Path(path), result)
    if text is None:
        return result
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        result.problems.append(Problem(name, mark.line + 1 if mark else 0, "", f"not valid YAML: {exc}"))
        return result
    if not isinstance(data, dict) or not isinstance(data.get("nlu"), list):
        result.problems.append(Problem(name, 1, "nlu", "expected a top-level 'nlu' list"))
        return result
    nodes = next(v for k, v in root.value if k.value == "nlu").value
    for item, node in zip(data["nlu"], nodes):
        if isinstance(item, dict) and "intent" in item:
            _read_intent(result, name, item, node)
    return note_empty(result, Path(path))


def _read_intent(result: FormatReadResult, name: str, item: dict, node) -> None:
    line = node.start_mark.line + 1
    intent, examples = item.get("intent"), item.get("examples")
    if not isinstance(intent, str) or not intent:
        result.problems.append(Problem(name, line, "intent", f"expected an intent name, got {shown(intent)}"))
        return
    intents = [i for i in intent.split(MULTI_INTENT_SEPARATOR) if i]
    for offset, example in _examples(examples):
        if example is None:
            result.problems.append(Problem(name, line, "examples", "expected a '|' block of '- ' lines or a list of {text}"))
            return
        try:
            text, spans = parse_example(example)
        except (json.JSONDecodeError, TypeError) as exc:
            result.problems.append(Problem(name, line + offset, "examples", f"bad entity markup: {exc}"))
            continue
        add_record(result, name, line + offset, {"text": text, "intents": intents, "entities": spans})


def _examples(examples) -> list[tuple[int, str | None]]:
    """(line offset from the intent line, example) pairs; (0, None) when the shape is wrong."""
    if isinstance(examples, str):
        lines = examples.split("\n")
        return [(i + 2, ln.lstrip()[2:]) for i, ln in enumerate(lines) if ln.lstrip().startswith("- ")]
    if isinstance(examples, list):
        return [(i + 2, e.get("text") if isinstance(e, dict) else e) for i, e in enumerate(examples)]
    return [(0, None)]
