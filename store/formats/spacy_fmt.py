"""spaCy training data: JSONL (``text``, ``entities`` as [start, end, label], ``cats``) always, and a
``.spacy`` DocBin when spaCy is installed (optional extra ``export``).

spaCy offsets are code points like ours. The DocBin's tokens are the named tokenizer's words (plus
whitespace tokens where the gap is not one space), so its entity spans sit on the same boundaries
as the CoNLL and HF exports; a span that cuts a word is widened to whole words and counted.

A turn that carries nothing but its response fit is left out (``rows_fit_only``): its empty entity
list would teach "no entity here". A turn that is no intent example (``store.records.intent_labelled``)
gets empty ``cats``, which spaCy's text classifiers read as "not annotated", not as "no intent".
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from store.formats.common import (ExportOptions, FormatReadResult, add_record, is_multi_label, jsonl_lines,
                                  note_empty, schema_names, write_jsonl_objects)
from store.formats.words import word_splitter
from store.records import Problem, fit_only, intent_labelled


def spacy_example(record: dict, intents: list[str], multi_label: bool = True) -> dict:
    chosen = set(record.get("intents") or [])
    meta = {k: record.get(k) for k in ("id", "conversation_id", "turn_index", "sentiment") if record.get(k) is not None}
    labelled = intent_labelled(record, multi_label)
    return {
        "text": record["text"],
        "entities": [[s["start"], s["end"], s["label"]] for s in record.get("entities") or []],
        "cats": {name: 1.0 if name in chosen else 0.0 for name in intents} if labelled else {},
        "meta": meta,
    }


def spacy_records(records: list[dict]) -> list[dict]:
    """The turns spaCy can learn something from: all but those judged only for their response fit."""
    return [r for r in records if not fit_only(r)]


def write_spacy_jsonl(records: list[dict], path: Path, options: ExportOptions) -> dict:
    intents, multi_label = schema_names(options, "intents", records), is_multi_label(records, options)
    kept = spacy_records(records)
    return {"rows": write_jsonl_objects(path, (spacy_example(r, intents, multi_label) for r in kept)),
            "rows_fit_only": len(records) - len(kept),
            "rows_intents_not_labelled": sum(1 for r in kept if not intent_labelled(r, multi_label))}


def spacy_installed() -> bool:
    try:
        import spacy  # noqa: F401
    except ImportError:
        return False
    return True


def doc_words(text: str, words: list[tuple[int, int]]) -> tuple[list[str], list[bool]]:
    """Words and trailing-space flags that rebuild ``text`` exactly (spaCy's Doc contract)."""
    out, spaces, position = [], [], 0
    for start, end in words + [(len(text), len(text))]:
        gap = text[position:start]
        if gap:
            if out and gap.startswith(" "):
                spaces[-1], gap = True, gap[1:]
            if gap:
                out.append(gap)
                spaces.append(False)
        if end > start:
            out.append(text[start:end])
            spaces.append(False)
        position = end
    return out, spaces


@lru_cache(maxsize=1)
def _vocab():
    """A multilingual blank pipeline's vocab: tokens come from our own word splitter, not spaCy's."""
    import spacy

    return spacy.blank("xx").vocab


def write_docbin(records: list[dict], path: Path, options: ExportOptions) -> dict:
    """Write a DocBin; returns how many spans had to be widened or dropped to fit the tokens."""
    from spacy.tokens import Doc, DocBin

    vocab = _vocab()
    intents, multi_label = schema_names(options, "intents", records), is_multi_label(records, options)
    records = spacy_records(records)
    docbin, misfit = DocBin(store_user_data=True), 0
    for record, words in zip(records, word_splitter(options.tokenizer).words([r["text"] for r in records])):
        doc = Doc(vocab, *doc_words(record["text"], words))
        spans = []
        for s in record.get("entities") or []:
            span = doc.char_span(s["start"], s["end"], label=s["label"])
            if span is None:
                misfit += 1
                span = doc.char_span(s["start"], s["end"], label=s["label"], alignment_mode="expand")
            if span is not None and not any(span.start < o.end and o.start < span.end for o in spans):
                spans.append(span)
            elif span is not None:
                misfit += 1
        doc.ents = spans
        doc.cats = spacy_example(record, intents, multi_label)["cats"]
        doc.user_data["id"] = record.get("id")
        docbin.add(doc)
    docbin.to_disk(path)
    return {"spacy_spans_not_on_tokens": misfit}


def write_spacy(records: list[dict], path: Path, options: ExportOptions) -> dict:
    """JSONL at ``path``; a ``.spacy`` DocBin beside it when spaCy is installed."""
    stats = write_spacy_jsonl(records, path, options)
    if spacy_installed():
        stats.update(write_docbin(records, path.with_suffix(".spacy"), options))
    return stats


def read_spacy_jsonl(path: Path) -> FormatReadResult:
    """Read spaCy training JSONL: ``entities`` as [start, end, label] (or dicts), ``cats`` >= 0.5 as intents (in cats order)."""
    result = FormatReadResult()
    for line, obj in jsonl_lines(Path(path), result):
        if not isinstance(obj, dict):
            result.problems.append(Problem(str(path), line, "", "expected a JSON object"))
            continue
        spans = [_span(s) for s in obj.get("entities") or obj.get("spans") or []]
        cats = obj.get("cats") or {}
        meta = obj.get("meta") or {}
        add_record(result, str(path), line, {
            "id": meta.get("id"), "conversation_id": meta.get("conversation_id"), "turn_index": meta.get("turn_index"),
            "text": obj.get("text"), "entities": spans, "sentiment": meta.get("sentiment"),
            "intents": [name for name, score in cats.items() if isinstance(score, (int, float)) and score >= 0.5],
        })
    return note_empty(result, Path(path))


def _span(item) -> dict:
    if isinstance(item, (list, tuple)) and len(item) == 3:
        return {"start": item[0], "end": item[1], "label": item[2]}
    return item
