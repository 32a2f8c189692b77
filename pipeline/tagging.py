"""BIO tagging over subword offsets: spans -> token tags, and token probabilities -> spans.

Entity spans live in code points on the user's text; the taggers see subwords. Encoding marks
every subword that overlaps a span (B on the first, I on the rest); decoding runs a Viterbi pass
that forbids ``I-X`` unless it follows ``B-X``/``I-X`` (the constraint a CRF would learn, applied
exactly), then maps each tag run back to code points with the first and last subword's offsets.
Token bounds carry punctuation and spaces the entity does not (a tokenizer glues "—" or "," to a
word, a subword starts with its space), so decoded spans are trimmed on the text (``trim_span``).

With the text, decoding is per word, not per subword (``word_groups``): a word takes the tag of its
first subword and a span covers whole words. Decoding subwords alone cut "ORD-5521" to "ORD-55" when
"##21" came out O, and "<img src" to "img sr", and an accepted suggestion stored the stub. One exception
(``entry_rows``): a word whose first subword is O but a later one B-X/I-X, where letters turn to digits or
back, starts its span at that subword, as gold spans inside a word do (the digits of "order732201349959").
"""
from __future__ import annotations

import functools
import unicodedata

import numpy as np
import regex

# The import's notion of a word character and of a script written without spaces (pure module, no DuckDB),
# so a suggestion never starts or ends where an import would warn "inside a word".
from store.records import UNSPACED_SCRIPT, WORD_CHAR

OUTSIDE = "O"
# Closing bracket or quote -> its opening partner, for the pairs whose code points are not adjacent
# (``trim_span`` otherwise takes the code point just before a Pe/Pf closer, as in （）「」【】《》).
CLOSER_TO_OPENER = {")": "(", "]": "[", "}": "{", "\u00bb": "\u00ab", "\u203a": "\u2039",
                    "\u2019": "\u2018", "\u201d": "\u201c", '"': '"', "'": "'"}


def tag_names(entity_labels: list[str]) -> list[str]:
    """``["O", "B-a", "I-a", "B-b", ...]`` in a fixed order (entity labels sorted)."""
    names = [OUTSIDE]
    for label in sorted(entity_labels):
        names += [f"B-{label}", f"I-{label}"]
    return names


def encode_bio(offsets: np.ndarray, spans: list[dict], names: list[str]) -> np.ndarray:
    """Tag index per subword. Subwords overlapping no span are O; overlapping spans keep the first."""
    index = {name: i for i, name in enumerate(names)}
    tags = np.zeros(len(offsets), dtype=np.int64)
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        inside = [i for i, (a, b) in enumerate(offsets) if a < span["end"] and b > span["start"] and tags[i] == 0]
        if not inside or f"B-{span['label']}" not in index:
            continue
        tags[inside[0]] = index[f"B-{span['label']}"]
        for i in inside[1:]:
            tags[i] = index[f"I-{span['label']}"]
    return tags


def allowed_transitions(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(start_ok (k,), step_ok (k, k)): I-X may only start after B-X or I-X, never first.

    Cached per tag list (read-only arrays): decoding calls this once per turn, and building the
    matrix in Python cost ~1 ms a turn (5 CPU-s per 10k-turn pool)."""
    return _allowed_transitions(tuple(names))


@functools.lru_cache(maxsize=64)
def _allowed_transitions(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    k = len(names)
    start_ok = np.array([not n.startswith("I-") for n in names], dtype=bool)
    step_ok = np.ones((k, k), dtype=bool)
    for j, name in enumerate(names):
        if name.startswith("I-"):
            label = name[2:]
            step_ok[:, j] = [prev in (f"B-{label}", f"I-{label}") for prev in names]
    start_ok.flags.writeable = step_ok.flags.writeable = False
    return start_ok, step_ok


@functools.lru_cache(maxsize=64)
def _tag_kinds(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(is_begin (k,), is_inside (k,), label per tag) for span extraction over a tag path."""
    is_begin = np.array([n.startswith("B-") for n in names], dtype=bool)
    is_inside = np.array([n.startswith("I-") for n in names], dtype=bool)
    return is_begin, is_inside, [n[2:] if n != OUTSIDE else "" for n in names]


def viterbi_bio(log_probs: np.ndarray, start_ok: np.ndarray, step_ok: np.ndarray) -> np.ndarray:
    """Most probable tag path under the BIO constraints (transitions otherwise free)."""
    t, k = log_probs.shape
    if t == 0:
        return np.zeros(0, dtype=np.int64)
    forbid = np.where(step_ok, 0.0, -np.inf)
    score = np.where(start_ok, log_probs[0], -np.inf)
    back = np.zeros((t, k), dtype=np.int64)
    for i in range(1, t):
        total = score[:, None] + forbid          # (prev, next)
        back[i] = total.argmax(axis=0)
        score = total.max(axis=0) + log_probs[i]
    path = np.zeros(t, dtype=np.int64)
    path[-1] = int(score.argmax())
    for i in range(t - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def best_bio_path(log_probs: np.ndarray, names: list[str]) -> np.ndarray:
    """The constrained Viterbi path, skipping the dynamic programme when it cannot change anything:
    if the per-token argmax path already obeys the BIO constraints it is the unconstrained optimum,
    hence also the constrained one (the usual case: most turns are confidently O). Ties between equally
    probable paths may resolve differently from ``viterbi_bio``; the path's probability is the same."""
    start_ok, step_ok = allowed_transitions(names)
    greedy = log_probs.argmax(axis=1)
    if start_ok[greedy[0]] and step_ok[greedy[:-1], greedy[1:]].all():
        return greedy
    return viterbi_bio(log_probs, start_ok, step_ok)


# Other punctuation (Po) is trimmed only when it ends a clause or sentence: "%" in "50%", "#" in "#A123",
# "@" and "&" belong to the entity.
SENTENCE_PUNCTUATION = set(".,;:!?\u2026\u00b7\u3002\uff0c\u3001\uff1b\uff1a\uff01\uff1f\uff0e\u00bf\u00a1\"'")


def is_trimmable(char: str) -> bool:
    """Never the edge of an entity: whitespace, dashes, brackets, quotes, clause punctuation."""
    category = unicodedata.category(char)
    return (char.isspace() or category[0] == "Z" or category in ("Pd", "Ps", "Pe", "Pi", "Pf")
            or char in SENTENCE_PUNCTUATION)


def keeps_final_period(inner: str) -> bool:
    """A final "." after ``inner`` belongs to it in abbreviations: "U.S.", "a.m.", "Main St.", "Dr."."""
    last_word = inner.split()[-1] if inner.split() else ""
    return "." in last_word or (0 < len(last_word) <= 3 and last_word[0].isupper() and last_word.isalpha())


def opener_of(char: str) -> str | None:
    """The opening partner of a closing bracket or quote, else None."""
    if char in CLOSER_TO_OPENER:
        return CLOSER_TO_OPENER[char]
    if unicodedata.category(char) in ("Pe", "Pf") and unicodedata.category(chr(ord(char) - 1)) in ("Ps", "Pi"):
        return chr(ord(char) - 1)
    return None


def closes_inside(inner: str, char: str) -> bool:
    """``char`` (last of a span) closes a bracket or quote opened in ``inner`` (the span before it)."""
    opener = opener_of(char)
    if opener is None:
        return False
    if opener == char:                                        # straight quotes: an odd count is open
        return inner.count(char) % 2 == 1
    return inner.count(opener) > inner.count(char)


def opens_inside(char: str, inner: str) -> bool:
    """``char`` (first of a span) opens a bracket or quote closed in ``inner`` (the span after it)."""
    depth = 1
    for c in inner:
        if opener_of(c) == char:
            depth = 0 if c == char else depth - 1            # a straight quote closes at once
            if depth == 0:
                return True
        elif c == char:
            depth += 1
    return False


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``start, end`` (code points) without leading/trailing whitespace and punctuation, except a
    bracket or quote whose partner is inside the span ("(555) 123" keeps both parentheses). An empty
    result has ``start >= end``."""
    end = min(end, len(text))
    while start < end and is_trimmable(text[start]) and not opens_inside(text[start], text[start + 1:end]):
        start += 1
    while (start < end and is_trimmable(text[end - 1]) and not closes_inside(text[start:end - 1], text[end - 1])
           and not (text[end - 1] == "." and keeps_final_period(text[start:end - 1]))):
        end -= 1
    return start, end


def trimmed_spans(spans: list[dict], text: str) -> list[dict]:
    """``spans`` trimmed on ``text`` (``trim_span``), dropping those left empty."""
    kept = []
    for span in spans:
        start, end = trim_span(text, span["start"], span["end"])
        if start < end:
            kept.append({**span, "start": start, "end": end})
    return kept


# A word: a run of word characters (letters, digits, marks, "_") of a spaced script. No joiners: "ORD-5521"
# is "ORD", "-", "5521" (the span still covers it whole: "-" is a unit of its own between them), and gluing
# on "-" or "." would make one word of "month.American" (SGD: a date entity ends at the dot) or of
# "Chengdu-Shanghai". Anything else that is not a space is a unit of one grapheme cluster: a character
# of Chinese, Japanese, Thai..., whose word bounds need a dictionary, a punctuation mark, a whole emoji.
WORD_UNIT = regex.compile(rf"(?:(?!{UNSPACED_SCRIPT.pattern}){WORD_CHAR.pattern})+|(?!\s)\X")


def word_units(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) in code points of the words and other units of ``text`` (``WORD_UNIT``), in order."""
    bounds = [(m.start(), m.end()) for m in WORD_UNIT.finditer(text)]
    array = np.array(bounds, dtype=np.int64).reshape(len(bounds), 2)
    return array[:, 0], array[:, 1]


def word_groups(offsets: np.ndarray, text: str) -> tuple[list[int], np.ndarray]:
    """(first subword of each group, (g, 2) code-point bounds of each group): consecutive subwords that
    share a word form one group, whose bounds reach that word's edges; a subword touching no word
    (spaces only) is a group of its own with its own bounds. A subword spanning several units (a
    coarse tokenizer's "A983684 —") joins them into one group rather than splitting a subword."""
    starts, ends = word_units(text)
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    first_unit = np.searchsorted(ends, offsets[:, 0], side="right")      # first unit ending after a
    last_unit = np.searchsorted(starts, offsets[:, 1], side="left") - 1  # last unit starting before b
    heads, bounds, reach = [], [], -1
    for i, (a, b) in enumerate(offsets.tolist()):
        touches = bool(first_unit[i] <= last_unit[i])
        lo, hi = (min(a, int(starts[first_unit[i]])), max(b, int(ends[last_unit[i]]))) if touches else (a, b)
        if touches and heads and first_unit[i] <= reach:
            bounds[-1] = [min(bounds[-1][0], lo), max(bounds[-1][1], hi)]
        else:
            heads.append(i)
            bounds.append([lo, hi])
        reach = max(reach, int(last_unit[i])) if touches else -1
    return heads, np.array(bounds, dtype=np.int64).reshape(len(bounds), 2)


def decode_spans(probs: np.ndarray, offsets: np.ndarray, names: list[str], text: str | None = None) -> list[dict]:
    """Spans ``{start, end, label, score}`` from token probabilities (t, k); score = mean tag prob.

    With the turn's ``text`` the tags are decoded per word (``word_groups``: a word's tag is its first
    subword's, the usual rule for subword taggers) and spans reach whole words, then are trimmed of
    edge punctuation and spaces (``trim_span``): the token bounds as they are put "A983684 —" into an
    order id, and accepting the suggestion stored it. Every caller that has the text passes it; tests
    of the path alone may leave it out (spans on subword bounds, untrimmed)."""
    if text is None:
        return _decoded_spans(probs, offsets, names)
    heads, bounds = word_groups(offsets, text)
    word_probs, bounds = entry_rows(np.asarray(probs), np.asarray(offsets).reshape(-1, 2), heads, bounds, names,
                                    text)
    return trimmed_spans(_decoded_spans(word_probs, bounds, names), text)


@functools.lru_cache(maxsize=64)
def _inside_to_begin(names: tuple[str, ...]) -> np.ndarray:
    """(k, k) 0/1 matrix: ``row @ it`` adds each I-X probability onto B-X (O and B-X stay put)."""
    index = {name: i for i, name in enumerate(names)}
    fold = np.zeros((len(names), len(names)))
    for i, name in enumerate(names):
        fold[i, index.get(f"B-{name[2:]}", i) if name.startswith("I-") else i] = 1.0
    fold.flags.writeable = False
    return fold


def switches_letters_and_digits(text: str, at: int) -> bool:
    """``text[at]`` starts a run of digits after a letter, or of letters after a digit ("order|7322")."""
    return 0 < at < len(text) and text[at - 1].isalnum() and text[at].isalnum() and \
        text[at - 1].isdigit() != text[at].isdigit()


def entry_rows(probs: np.ndarray, offsets: np.ndarray, heads: list[int], bounds: np.ndarray,
               names: list[str], text: str) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, bounds) per word for decoding: the first subword's row and the word's bounds,
    except for a word whose first subword's best tag is O and a later subword's is B-X or I-X, where
    the text switches between letters and digits. That word enters at the first such subword: its
    row (with I-X counted as B-X, a start) and its start offset, to the word's end. A gold span can
    start inside a word (Bitext tags only the digits of "order732201349959"); whole-word decoding
    dropped the word, so no such span was ever suggested. Without the letter/digit switch the rule
    suggested "mium" in "Freemium" (Bitext fast entity F1 0.9940 -> 0.9895)."""
    rows, bounds = np.asarray(heads, dtype=np.int64), np.array(bounds, dtype=np.int64)
    outside = names.index(OUTSIDE)
    best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    word_of = np.searchsorted(rows, np.arange(len(probs)), side="right") - 1
    tagged_inside = (best != outside) & (best[rows[word_of]] == outside)
    for j in np.flatnonzero(tagged_inside).tolist():
        tagged_inside[j] = switches_letters_and_digits(text, int(offsets[j, 0]))
    words, first = np.unique(word_of[tagged_inside], return_index=True)
    if len(words) == 0:
        return probs[rows], bounds
    entry = np.flatnonzero(tagged_inside)[first]
    word_probs = probs[rows].astype(np.float64)
    word_probs[words] = probs[entry] @ _inside_to_begin(tuple(names))
    bounds[words, 0] = offsets[entry, 0]
    return word_probs, bounds


def _decoded_spans(probs: np.ndarray, offsets: np.ndarray, names: list[str]) -> list[dict]:
    """The spans at token bounds, untrimmed."""
    if len(probs) == 0:
        return []
    path = best_bio_path(np.log(np.clip(probs, 1e-12, 1.0)), names)
    is_begin, is_inside, labels = _tag_kinds(tuple(names))
    starts = np.flatnonzero(is_begin[path])
    if len(starts) == 0:
        return []
    # a valid path only puts I-X after B-X or I-X, so a span is a B followed by the run of I's after it
    breaks = np.append(np.flatnonzero(~is_inside[path]), len(path))
    ends = breaks[np.searchsorted(breaks, starts + 1)]          # exclusive token index
    chosen = np.concatenate([[0.0], np.cumsum(probs[np.arange(len(path)), path], dtype=np.float64)])
    return [{"start": int(offsets[a][0]), "end": int(offsets[b - 1][1]), "label": labels[path[a]],
             "score": float((chosen[b] - chosen[a]) / (b - a))}
            for a, b in zip(starts.tolist(), ends.tolist())]
