"""Likely label errors: confident learning (cleanlab) over out-of-sample probabilities.

Why cleanlab: confident learning (Northcutt et al. 2021) estimates, per class, how often a given
label is wrong from a model's *out-of-sample* probabilities, and flags the examples beyond those
noise rates; its reference implementation is well kept and covers single-label, multi-label and
token classification. The functions here are pure, over integer labels and probability arrays
(cleanlab style), so the analyst pages can run them on stored held-out predictions and the batch
audit (``rank_label_errors``) on probabilities it computes itself out-of-fold with the fast
extractor heads. Every result row says the field, the given label, the suggested one and a score in
[0, 1] (1 - label quality: higher = more likely wrong).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from pipeline.tagging import trim_span, word_groups

FIELDS = ("intent", "sentiment", "entity")
RANK_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
DEFAULT_METHOD = "self_confidence"   # best precision@k on Bitext with random flips (bench/bench_label_errors.py)
AUDIT_INTENT_C = 2.0    # stronger L2 than the extractor's default (20): heads learn less of the noise (P@k +0.08 on confused pairs)
AUDIT_PASSES = 2        # pass 2 retrains without pass 1's suspects (confused-pair flips: P@k 0.85 -> 0.89)
MAX_EXCLUDED = 0.1      # ... at most this share of the labelled turns (the top suspects), so a weak first
                        # model cannot take a whole class out of training
OUTSIDE = "O"
PROB_TOLERANCE = 1e-4   # float rounding allowed outside [0, 1]: the heads return float32 rows, and a token's B- and
                        # I- probabilities summed in float64 reach 1.00000003 (every audit with entities failed)


@dataclass
class LabelIssues:
    """Per example: flagged by the confident-learning filter, label quality (low = suspect), suggestion."""

    is_issue: np.ndarray        # (n,) bool
    quality: np.ndarray         # (n,) float in [0, 1]
    suggested: list             # (n,) class index, or a list of indices for multi-label

    @property
    def score(self) -> np.ndarray:
        return 1.0 - self.quality


# ------------------------------------------------------------------------------ validation
def _check_probs(pred_probs, n: int | None = None, *, what: str = "pred_probs") -> np.ndarray:
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"{what}: expected an (n, k) array with k >= 2 classes, got shape {probs.shape}")
    if n is not None and len(probs) != n:
        raise ValueError(f"{what}: expected {n} rows (one per label), got {len(probs)}")
    if not np.isfinite(probs).all() or (probs < -PROB_TOLERANCE).any() or (probs > 1 + PROB_TOLERANCE).any():
        raise ValueError(f"{what}: expected probabilities in [0, 1], got values in [{probs.min()}, {probs.max()}]")
    return np.clip(probs, 0.0, 1.0)     # rounding within the tolerance: cleanlab wants [0, 1] exactly


def _check_labels(labels, k: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels: expected a 1-D array of class indices, got dtype {y.dtype} shape {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels: expected class indices in [0, {k}), got values in [{y.min()}, {y.max()}]")
    return y


def _check_method(method: str) -> None:
    if method not in RANK_METHODS:
        raise ValueError(f"method: expected one of {RANK_METHODS}, got {method!r}")


# ------------------------------------------------------------------------ pure functions
def class_label_issues(labels, pred_probs, *, method: str = DEFAULT_METHOD,
                       filter_by: str = "prune_by_noise_rate") -> LabelIssues:
    """Single-label classification (intents, sentiment): one class index per example.

    ``pred_probs`` must be out-of-sample (each row from a model that never saw that example).
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    _check_method(method)
    probs = _check_probs(pred_probs)
    y = _check_labels(labels, probs.shape[1])
    if len(y) != len(probs):
        raise ValueError(f"labels: expected {len(probs)} labels (one per pred_probs row), got {len(y)}")
    if len(y) == 0:
        return LabelIssues(np.zeros(0, bool), np.zeros(0), [])
    probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
    quality = get_label_quality_scores(y, probs, method=method)
    flagged = find_label_issues(y, probs, filter_by=filter_by, n_jobs=1)
    # cleanlab's filter also flags rows whose given label is already the model's argmax only in odd
    # corner cases; a suggestion equal to the given label is no suggestion, so drop those.
    suggested = probs.argmax(axis=1)
    return LabelIssues(np.asarray(flagged, bool) & (suggested != y), np.asarray(quality, float), suggested.tolist())


def multilabel_label_issues(labels: Sequence[Sequence[int]], pred_probs, *, threshold: float = 0.5,
                            method: str = DEFAULT_METHOD) -> LabelIssues:
    """Multi-label intents: a list of class indices per example (possibly empty), sigmoid probabilities."""
    from cleanlab.multilabel_classification.filter import find_label_issues
    from cleanlab.multilabel_classification.rank import get_label_quality_scores

    _check_method(method)
    probs = _check_probs(pred_probs, len(labels))
    k = probs.shape[1]
    given = [sorted({int(c) for c in row}) for row in labels]
    if any(c < 0 or c >= k for row in given for c in row):
        raise ValueError(f"labels: expected class indices in [0, {k}) in every list")
    if not given:
        return LabelIssues(np.zeros(0, bool), np.zeros(0), [])
    quality = get_label_quality_scores(given, probs, method=method)
    flagged = find_label_issues(given, probs, n_jobs=1)
    suggested = [sorted(np.flatnonzero(row >= threshold).tolist()) for row in probs]
    differs = np.array([s != g for s, g in zip(suggested, given)])
    return LabelIssues(np.asarray(flagged, bool) & differs, np.asarray(quality, float), suggested)


def token_label_issues(labels: Sequence[np.ndarray], pred_probs: Sequence[np.ndarray], *,
                       method: str = DEFAULT_METHOD) -> list[LabelIssues]:
    """Entity tokens: per turn, a class index per token and (t, k) probabilities; one result per turn."""
    from cleanlab.token_classification.filter import find_label_issues
    from cleanlab.token_classification.rank import get_label_quality_scores

    _check_method(method)
    if len(labels) != len(pred_probs):
        raise ValueError(f"labels: expected one token-label array per pred_probs entry ({len(pred_probs)}), got {len(labels)}")
    keep = [i for i, y in enumerate(labels) if len(y)]
    out = [LabelIssues(np.zeros(0, bool), np.zeros(0), []) for _ in labels]
    if not keep:
        return out
    k = np.asarray(pred_probs[keep[0]]).shape[1]
    ys = [_check_labels(np.asarray(labels[i], dtype=np.int64), k) for i in keep]
    ps = [_check_probs(pred_probs[i], len(labels[i]), what=f"pred_probs[{i}]") for i in keep]
    ps = [p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None) for p in ps]
    _, token_quality = get_label_quality_scores([y.tolist() for y in ys], ps, token_score_method=method)
    flagged = set(find_label_issues([y.tolist() for y in ys], ps, n_jobs=1))
    for pos, i in enumerate(keep):
        suggested = ps[pos].argmax(axis=1)
        is_issue = np.array([(pos, j) in flagged for j in range(len(ys[pos]))]) & (suggested != ys[pos])
        out[i] = LabelIssues(is_issue, np.asarray(token_quality[pos], float), suggested.tolist())
    return out


def merge_bio_probs(token_probs: np.ndarray, tag_names: Sequence[str], entity_types: Sequence[str]) -> np.ndarray:
    """(t, 1 + 2m) BIO tag probabilities -> (t, 1 + m) entity-type probabilities (B and I summed).

    Label errors are about *which type* a token has, not about B/I boundaries, so the types are what
    confident learning should judge. Column 0 is O; then ``entity_types`` in order (missing -> 0).
    """
    probs = np.asarray(token_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(tag_names):
        raise ValueError(f"token_probs: expected (t, {len(tag_names)}) for tags {list(tag_names)}, got {probs.shape}")
    column = {OUTSIDE: 0, **{t: 1 + j for j, t in enumerate(entity_types)}}
    merged = np.zeros((len(probs), 1 + len(entity_types)))
    for tag_index, name in enumerate(tag_names):
        label = name if name == OUTSIDE else name.split("-", 1)[1]
        if label in column:
            merged[:, column[label]] += probs[:, tag_index]
    return np.clip(merged, 0.0, 1.0)    # float32 B + I can sum to 1.00000003


@dataclass
class EntityWords:
    """One turn's words (the tagger's units, ``pipeline.tagging.word_groups``) for the entity audit."""

    bounds: np.ndarray          # (w, 2) code points of each word
    given: np.ndarray           # (w,) given type: the first annotated subword's in the word, else 0 (O)
    probs: np.ndarray           # (w, 1 + m) the word's first subword's type probabilities


def entity_words(offsets: np.ndarray, text: str, given: np.ndarray, probs: np.ndarray) -> EntityWords:
    """Subword types and probabilities -> per word, as the tagger decodes its suggestions: a word takes
    its first subword's probabilities, so the model's span covers whole words. Judged per subword, the
    audit offered order_id "ORD-55" where "##21" came out O, and "Relabel to the suggestion" stored the
    stub. A word is given a type when any of its subwords is annotated (an annotation starting inside a
    word is still judged, over the whole word)."""
    heads, bounds = word_groups(offsets, text)
    given = np.asarray(given, dtype=np.int64)
    ends = [*heads[1:], len(given)]
    word_given = np.zeros(len(heads), dtype=np.int64)
    for w, (a, b) in enumerate(zip(heads, ends)):
        annotated = given[a:b][given[a:b] != 0]
        word_given[w] = annotated[0] if len(annotated) else 0
    return EntityWords(bounds, word_given, np.asarray(probs)[heads])


def token_types(offsets: np.ndarray, spans: Sequence[dict], entity_types: Sequence[str]) -> np.ndarray:
    """The given entity type of each token (0 = O, 1 + j = ``entity_types[j]``), by character overlap."""
    types = np.zeros(len(offsets), dtype=np.int64)
    index = {t: 1 + j for j, t in enumerate(entity_types)}
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        for i, (a, b) in enumerate(offsets):
            if a < span["end"] and b > span["start"] and types[i] == 0 and span["label"] in index:
                types[i] = index[span["label"]]
    return types


# --------------------------------------------------------------------------- result rows
def issue_rows(ids: Sequence, issues: LabelIssues, classes: Sequence[str], given: Sequence, *, field: str,
               only_flagged: bool = False, seen: np.ndarray | None = None) -> list[dict]:
    """Result rows ``{id, field, given, suggested, score, flagged}`` for the examples worth showing:
    every one whose out-of-sample suggestion differs from its given label (``only_flagged``: only
    those the confident-learning filter also flags; ``flagged`` says which these are).

    ``given`` holds class indices (lists for multi-label); ``seen`` masks examples that can be judged
    (e.g. their given class existed in the training fold).
    """
    rows = []
    for i, item_id in enumerate(ids):
        if (only_flagged and not issues.is_issue[i]) or (seen is not None and not seen[i]):
            continue
        suggestion, label = issues.suggested[i], given[i]
        if isinstance(label, (list, tuple)):
            given_out, suggested_out = [classes[c] for c in label], [classes[c] for c in suggestion]
        else:
            given_out, suggested_out = classes[label], classes[suggestion]
        if given_out == suggested_out:
            continue
        rows.append({"id": item_id, "field": field, "given": given_out, "suggested": suggested_out,
                     "score": round(float(issues.score[i]), 6), "flagged": bool(issues.is_issue[i])})
    return rows


def _segments(given: np.ndarray, suggested: list) -> list[tuple[int, int]]:
    """Runs of adjacent tokens that belong together: the same given type (an annotated span), or given O
    with the same non-O suggestion (a span the annotator may have missed)."""
    keys = [(int(g),) if g != 0 else ("O", int(s)) for g, s in zip(given, suggested)]
    runs, start = [], 0
    for j in range(1, len(keys) + 1):
        if j == len(keys) or keys[j] != keys[start]:
            runs.append((start, j))
            start = j
    return runs


def entity_issue_rows(ids: Sequence, texts: Sequence[str], offsets: Sequence[np.ndarray],
                      token_issues: Sequence[LabelIssues], given: Sequence[np.ndarray], entity_types: Sequence[str],
                      *, only_flagged: bool = False) -> list[dict]:
    """Span-level entity rows from token issues: each annotated span whose tokens the model mostly types
    differently, and each run of unannotated tokens the model types as an entity. ``score`` is the mean
    of the tokens' (1 - quality); ``start``/``end`` are code points, ``span_text`` the text they cover,
    trimmed of edge spaces and punctuation as the tagger's spans are (``trim_span``; a row left empty is
    dropped). The audit passes words (``entity_words``) as tokens, so its spans cover whole words."""
    names = [OUTSIDE, *entity_types]
    rows = []
    for i, item_id in enumerate(ids):
        issues = token_issues[i]
        for a, b in _segments(given[i], issues.suggested):
            votes = np.bincount(issues.suggested[a:b], minlength=len(names))
            suggestion, label = int(votes.argmax()), int(given[i][a])
            flagged = bool(np.any(issues.is_issue[a:b]))
            if suggestion == label or (label == 0 and suggestion == 0) or (only_flagged and not flagged):
                continue
            start, end = trim_span(texts[i], int(offsets[i][a][0]), int(offsets[i][b - 1][1]))
            if start >= end:
                continue
            rows.append({"id": item_id, "field": "entity", "given": names[label], "suggested": names[suggestion],
                         "score": round(float(np.mean(issues.score[a:b])), 6), "flagged": flagged,
                         "start": start, "end": end, "span_text": texts[i][start:end]})
    return rows


def rank_rows(rows: list[dict], *, top: int | None = None) -> list[dict]:
    """Most likely error first (score descending; ties by field then id for a stable order)."""
    ordered = sorted(rows, key=lambda r: (-r["score"], FIELDS.index(r["field"]), str(r["id"]), r.get("start", 0)))
    return ordered if top is None else ordered[:top]


# ------------------------------------------------------------------- the out-of-fold audit
def rank_label_errors(records: list[dict], *, encoder=None, folds: int = 5, top: int | None = None, seed: int = 0,
                      fields: Sequence[str] = FIELDS, method: str = DEFAULT_METHOD, only_flagged: bool = False,
                      passes: int = AUDIT_PASSES, intent_C: float = AUDIT_INTENT_C,
                      progress: Callable[[str, float], None] | None = None) -> list[dict]:
    """Train the fast extractor heads ``folds`` times, score each turn with the fold that did not see
    it, and rank likely label errors: ``[{"id", "field", "given", "suggested", "score", "flagged"}, ...]``
    (entity rows also carry ``start``/``end``/``span_text``).

    Every turn whose out-of-fold suggestion differs from its label is listed, ranked by cleanlab's
    label-quality score; ``flagged`` marks those confident learning's noise-rate filter also picks
    (a conservative subset). ``only_flagged`` keeps just those.
    ``encoder``: an Encoder, a name/path for ``load_encoder``, or None (the packaged one).
    ``passes``: with 2, the folds are retrained without the first pass's suspects (still scored), so
    systematic confusions the noisy labels taught the first models do not hide their own errors.
    """
    from pipeline.encoders import Encoder, load_encoder
    from pipeline.label_errors_oof import out_of_fold

    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"fields: expected a subset of {FIELDS}, got unknown {sorted(unknown)}")
    if passes not in (1, 2):
        raise ValueError(f"passes: expected 1 or 2, got {passes}")
    encoder = encoder if isinstance(encoder, Encoder) else load_encoder(encoder)
    options = {"intent_C": intent_C}
    suspects: set = set()
    for number in range(passes):
        oof = out_of_fold(records, encoder=encoder, folds=folds, seed=seed, exclude=suspects, train_options=options,
                          progress=progress)
        rows = _oof_rows(oof, fields, method=method, only_flagged=False)
        budget = int(MAX_EXCLUDED * len(oof.folds))
        suspects = set(list(dict.fromkeys(r["id"] for r in rank_rows(rows)))[:budget])
    if only_flagged:
        rows = [r for r in rows if r["flagged"]]
    return rank_rows(rows, top=top)


def _oof_rows(oof, fields: Sequence[str], *, method: str, only_flagged: bool) -> list[dict]:
    rows: list[dict] = []
    if "intent" in fields and oof.intent is not None:
        rows += oof.intent.rows(method=method, only_flagged=only_flagged, field="intent")
    if "sentiment" in fields and oof.sentiment is not None:
        rows += oof.sentiment.rows(method=method, only_flagged=only_flagged, field="sentiment")
    if "entity" in fields and oof.entity is not None:
        rows += oof.entity.rows(method=method, only_flagged=only_flagged)
    return rows
