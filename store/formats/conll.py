"""CoNLL BIO token classification: one ``word<TAB>tag`` line per word, a blank line between turns.

Words follow the named tokenizer's boundaries (``store.formats.words``). Comment lines carry what
BIO cannot: ``# id = ...``, ``# text = ...`` (``# text_json = ...`` when the text has line breaks)
and ``# intents = a+b``, so a re-import restores exact offsets. The reader also takes plain
CoNLL-2003 files (``-DOCSTART-``, several columns: the first is the word, the last the tag).
A turn that carries nothing but its response fit is left out (``rows_fit_only``): nobody marked its
entities, and an all-``O`` sentence would teach "no entity here".
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from store.formats.common import ExportOptions, FormatReadResult, add_record, note_empty, read_utf8, write_text
from store.formats.words import bio_tags_report, locate_tokens, spans_from_bio, word_splitter
from store.message_text import quoted
from store.records import Problem, fit_only

TAG = re.compile(r"^(O|[BI]-\S+)$")
COMMENT = re.compile(r"^#\s*([\w.-]+)\s*=\s?(.*)$")
# Text with any of these goes into ``# text_json`` so the comment stays one tab-free line.
NEEDS_JSON = "\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def to_conll(records: list[dict], words: list[list[tuple[int, int]]]) -> tuple[str, int, list[dict]]:
    """CoNLL text for records whose words are given; returns (text, spans that did not fit words,
    the overlapping spans BIO could not hold, each with its ``turn_id`` and the span kept instead)."""
    lines: list[str] = []
    misfit, overlaps = 0, []
    for record, spans in zip(records, words):
        text = record["text"]
        tags, widened, dropped = bio_tags_report(spans, record.get("entities") or [])
        misfit += widened + sum(1 for d in dropped if d["kept"] is None)
        overlaps += [{"turn_id": record.get("id"), **d} for d in dropped if d["kept"] is not None]
        if record.get("id") is not None:
            lines.append(f"# id = {record['id']}")
        has_breaks = any(c in text for c in NEEDS_JSON)
        lines.append(f"# text_json = {json.dumps(text, ensure_ascii=False)}" if has_breaks else f"# text = {text}")
        if record.get("intents"):
            lines.append(f"# intents = {'+'.join(record['intents'])}")
        lines += [f"{text[s:e]}\t{tag}" for (s, e), tag in zip(spans, tags)]
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else ""), misfit, overlaps


def write_conll(records: list[dict], path: Path, options: ExportOptions | None = None) -> dict:
    """Write one split; the counts (copied into the export manifest) name every overlapping span
    that BIO could not hold, so nested spans from imported data are never lost silently."""
    splitter = word_splitter((options or ExportOptions()).tokenizer)
    kept = [r for r in records if not fit_only(r)]
    text, misfit, overlaps = to_conll(kept, splitter.words([r["text"] for r in kept]))
    write_text(path, text)
    return {"rows": len(kept), "rows_fit_only": len(records) - len(kept), "spans_not_on_word_boundaries": misfit,
            "overlapping_spans_dropped": len(overlaps), "dropped_overlapping_spans": overlaps}


def read_conll(path: Path) -> FormatReadResult:
    """Read CoNLL BIO into records; text and offsets from the comments when present."""
    result = FormatReadResult()
    text = read_utf8(Path(path), result)
    if text is None:
        return result
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n") + [""], start=1):
        if line.strip():
            block.append((number, line.rstrip("\r")))
        elif block:
            _read_block(result, str(path), block)
            block = []
    return note_empty(result, Path(path))


def _read_block(result: FormatReadResult, name: str, block: list[tuple[int, str]]) -> None:
    comments, tokens, tags = {}, [], []
    for number, line in block:
        if _is_comment(line):
            match = COMMENT.match(line)
            if match:
                comments[match.group(1)] = match.group(2)
            continue
        if line.startswith("-DOCSTART-"):
            continue
        cells = line.split("\t") if "\t" in line else line.split()
        tag = cells[-1] if len(cells) > 1 else ""
        if not TAG.match(tag):
            result.problems.append(Problem(name, number, "tag", f"expected O, B-<label> or I-<label> after the word, got {quoted(tag)}"))
            return
        tokens.append(cells[0])
        tags.append(tag)
    if tokens:
        _add_sentence(result, name, block[0][0], comments, tokens, tags)


def _is_comment(line: str) -> bool:
    """``#`` lines without a tab are comments, unless they end in a tag (a ``#`` word in CoNLL-2003)."""
    if not line.startswith("#") or "\t" in line:
        return False
    return bool(COMMENT.match(line)) or not TAG.match(line.split()[-1])


def _add_sentence(result, name: str, line: int, comments: dict, tokens: list[str], tags: list[str]) -> None:
    text = json.loads(comments["text_json"]) if "text_json" in comments else comments.get("text") or " ".join(tokens)
    offsets = locate_tokens(text, tokens)
    if offsets is None:
        result.problems.append(Problem(name, line, "text", "the words are not found in order in the '# text' comment"))
        return
    intents = [i for i in comments.get("intents", "").split("+") if i]
    add_record(result, name, line, {"id": comments.get("id"), "text": text, "intents": intents,
                                    "entities": spans_from_bio(offsets, tags)})
