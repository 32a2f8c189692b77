"""Uncertainty scores for active learning: probability arrays in, one score per pool row out.

Every function here is pure (numpy in, numpy out, no model, no state), in the style of small-text
and modAL, so the worker, ``concord simulate`` and tests all call the same code. Convention: a
higher score means "label this sooner", and every score lies in [0, 1] so heads can be combined.

Single-label probabilities are (n, k) rows summing to 1. Multi-label probabilities are (n, k)
independent per-label probabilities; their scores measure uncertainty about the whole label *set*
under independence (the most likely set is "each label on iff p >= 0.5").
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

MEASURES = ("least_confidence", "margin", "entropy")
_EPS = 1e-12


def as_prob_matrix(probs, *, multi_label: bool = False, name: str = "probs") -> np.ndarray:
    """Validate and return ``probs`` as a float64 (n, k) matrix; errors say expected vs actual."""
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d (n, k) array, got shape {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name}: expected at least 1 column, got shape {arr.shape}")
    if arr.size and not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite probabilities, got NaN or inf")
    if arr.size and (arr.min() < -1e-6 or arr.max() > 1 + 1e-6):
        raise ValueError(f"{name}: expected values in [0, 1], got range [{arr.min():.4g}, {arr.max():.4g}]")
    if not multi_label and arr.size:
        sums = arr.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-3)
        if bad.size:
            raise ValueError(
                f"{name}: expected rows summing to 1 (single-label), got row {bad[0]} summing to "
                f"{sums[bad[0]]:.4f}; pass multi_label=True for independent per-label probabilities")
    return np.clip(arr, 0.0, 1.0)


def least_confidence_scores(probs, *, multi_label: bool = False) -> np.ndarray:
    """1 - P(most likely answer), scaled to [0, 1].

    Single-label: (1 - max p) * k / (k - 1). Multi-label: 1 - prod_j max(p_j, 1 - p_j), the
    probability that the most likely label set is wrong.
    """
    p = as_prob_matrix(probs, multi_label=multi_label)
    if multi_label:
        return 1.0 - np.exp(np.log(np.maximum(p, 1 - p) + _EPS).sum(axis=1))
    k = p.shape[1]
    if k == 1:
        return np.zeros(p.shape[0])
    return (1.0 - p.max(axis=1)) * k / (k - 1)


def _best_label_set(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multi-label rows: P(the most likely label set) and m, the least certain label's max(p, 1 - p);
    flipping that label gives the second most likely set, P(best) * (1 - m) / m."""
    m = np.maximum(p, 1 - p)
    return np.exp(np.log(m + _EPS).sum(axis=1)), m.min(axis=1)


def margin_scores(probs, *, multi_label: bool = False) -> np.ndarray:
    """1 - (P(best answer) - P(second-best answer)): high when the top two are close.

    Multi-label: the second-best label set flips the least certain label, so the margin is
    P(best set) * (1 - (1 - m) / m) with m the least certain label's max(p, 1 - p).
    """
    p = as_prob_matrix(probs, multi_label=multi_label)
    if p.shape[0] == 0:
        return np.zeros(0)
    if multi_label:
        best, m_min = _best_label_set(p)
        return 1.0 - best * (1.0 - (1.0 - m_min) / m_min)
    if p.shape[1] == 1:
        return 1.0 - p[:, 0]
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


def entropy_scores(probs, *, multi_label: bool = False) -> np.ndarray:
    """Shannon entropy normalised to [0, 1] (by log k; multi-label: summed binary entropies / k)."""
    p = as_prob_matrix(probs, multi_label=multi_label)
    k = p.shape[1]
    if multi_label:
        q = 1 - p
        h = -(p * np.log(p + _EPS) + q * np.log(q + _EPS))
        return h.sum(axis=1) / (k * np.log(2))
    if k == 1:
        return np.zeros(p.shape[0])
    return -(p * np.log(p + _EPS)).sum(axis=1) / np.log(k)


def _top_two(p: np.ndarray, multi_label: bool) -> tuple[np.ndarray, np.ndarray]:
    """P(most likely answer) and P(second most likely) per row (label sets under independence
    for multi-label: the second flips the least certain label)."""
    if multi_label:
        m = np.maximum(p, 1 - p)
        best = np.exp(np.log(m + _EPS).sum(axis=1))
        m_min = m.min(axis=1)
        return best, best * (1.0 - m_min) / m_min
    if p.shape[1] == 1:
        return p[:, 0], np.zeros(p.shape[0])
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return top2[:, 0], top2[:, 1]


def focused_margin_scores(probs, *, multi_label: bool = False) -> np.ndarray:
    """Margin uncertainty times (p1 + p2) ** g, with g the model's mean confidence on the pool.

    Why: a flat row (small p1) is worth asking about while the model knows little (it is
    likely a class not seen yet: that is how margin explores), but once the model is confident
    on most of the pool a row that stays flat is usually one the text cannot decide ("thanks,
    that's all"), and margin would keep spending labels on it. The exponent moves the score
    from margin (g = 0) towards 2 x P(second best) (g = 1, ``second_best_scores``) as the
    model's mean P(best answer) grows, without needing to know how many labels exist.
    """
    p = as_prob_matrix(probs, multi_label=multi_label)
    if p.shape[0] == 0:
        return np.zeros(0)
    p1, p2 = _top_two(p, multi_label)
    gamma = float(p1.mean())
    return np.clip((1.0 - p1 + p2) * (p1 + p2) ** gamma, 0.0, 1.0)


def local_margin_scores(probs, *, embeddings=None, labeled_embeddings=None,
                        multi_label: bool = False) -> np.ndarray:
    """Margin uncertainty, discounted for flat rows that sit closer to labelled turns than most.

    Score = margin x (p1 + p2) ** c, with closeness c in [0, 1]: the row's cosine similarity to
    its nearest labelled turn, above the pool's median similarity, as a fraction of the way to 1
    (relative, so it means the same for any encoder or domain). Why: a flat row far from the
    labels is unexplored ground (often a class not seen yet): margin's pick, c = 0. A flat row
    right beside labelled turns is one the model has been shown and still cannot decide:
    usually the text does not say ("thanks, that's all" belongs to whatever service the dialog
    was about), and asking again teaches little; there the score tends to 2 x P(second best),
    a close two-way confusion. Without embeddings of both the pool and the labelled turns this
    is plain margin.
    """
    p = as_prob_matrix(probs, multi_label=multi_label)
    if p.shape[0] == 0:
        return np.zeros(0)
    p1, p2 = _top_two(p, multi_label)
    margin = 1.0 - p1 + p2
    if embeddings is None or labeled_embeddings is None or len(labeled_embeddings) == 0:
        return np.clip(margin, 0.0, 1.0)
    similarity = nearest_cosine(embeddings, labeled_embeddings)
    if similarity.shape != (p.shape[0],):
        raise ValueError(f"embeddings: expected {p.shape[0]} rows to match probs, got {similarity.shape[0]}")
    typical = float(np.median(similarity))
    closeness = np.clip((similarity - typical) / max(1.0 - typical, _EPS), 0.0, 1.0)
    return np.clip(margin * (p1 + p2) ** closeness, 0.0, 1.0)


def cardinality_margin_scores(probs, *, embeddings=None, labeled_embeddings=None,
                              labeled_cardinality: float | None = None, multi_label: bool = False) -> np.ndarray:
    """Local margin, raised where the predicted label *count* disagrees with the usual count.

    Score = sqrt(local_margin x c / max c), c = |#labels with p >= 0.5 - expected count| + 1 (Li &
    Guo 2013's label-cardinality inconsistency). Why: exact-set accuracy is lost whenever the set
    has the wrong size, and a row whose predicted set is empty or oversized is one the per-label
    margins alone rank low (each label may be confidently wrong). The expected count is
    ``labeled_cardinality`` (mean labels per labelled turn) or, without it, the pool's sum of
    probabilities per row. Single-label rows always predict one label: plain local margin.
    """
    p = as_prob_matrix(probs, multi_label=multi_label)
    local = local_margin_scores(p, embeddings=embeddings, labeled_embeddings=labeled_embeddings,
                                multi_label=multi_label)
    if not multi_label or p.shape[0] == 0:
        return local
    if labeled_cardinality is None:
        expected = float(p.sum(axis=1).mean())
    elif (isinstance(labeled_cardinality, (int, float, np.number)) and not isinstance(labeled_cardinality, bool)
          and np.isfinite(labeled_cardinality) and labeled_cardinality >= 0):
        expected = float(labeled_cardinality)
    else:
        raise ValueError(f"labeled_cardinality: expected a number >= 0 (mean labels per labelled turn), "
                         f"got {labeled_cardinality!r}")
    inconsistency = np.abs((p >= 0.5).sum(axis=1) - expected) + 1.0
    return np.sqrt(local * inconsistency / inconsistency.max())


def nearest_cosine(x, reference, *, chunk: int = 4096) -> np.ndarray:
    """Each row's cosine similarity to its nearest ``reference`` row (chunked: bounded memory)."""
    x = np.asarray(x, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if x.ndim != 2 or ref.ndim != 2 or x.shape[1] != ref.shape[1]:
        raise ValueError(f"nearest_cosine: expected (n, d) and (m, d) arrays, got {x.shape} and {ref.shape}")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)
    ref = ref / np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), _EPS)
    return np.concatenate([(x[i:i + chunk] @ ref.T).max(axis=1) for i in range(0, len(x), chunk)]) \
        if len(x) else np.zeros(0)


def second_best_scores(probs, *, multi_label: bool = False) -> np.ndarray:
    """2 x P(second most likely answer), in [0, 1]: high only for a close two-way confusion.

    Why not plain margin: margin = 1 - p1 + p2 also scores a *flat* row high (p1 small), and a
    flat row is usually one the text cannot decide ("thanks, that's all" belongs to whatever
    service the dialog was about): labelling it teaches little, however many times it is asked.
    2 p2 = (p1 + p2) x (1 - (p1 - p2) / (p1 + p2)) is margin inside the top two, weighted by
    how much of the mass those two hold. Multi-label: 2 x P(second most likely label set), the
    set with the least certain label flipped (low when the whole set is a guess).
    """
    p = as_prob_matrix(probs, multi_label=multi_label)
    if p.shape[0] == 0:
        return np.zeros(0)
    if multi_label:
        best, m_min = _best_label_set(p)
        return np.clip(2.0 * best * (1.0 - m_min) / m_min, 0.0, 1.0)
    if p.shape[1] == 1:
        return np.zeros(p.shape[0])
    return 2.0 * -np.partition(-p, 1, axis=1)[:, 1]


def rarity_weighted_scores(probs, *, multi_label: bool = False) -> np.ndarray:
    """Uncertainty that counts more where the label is rare in the pool, in [0, 1].

    Why: uncertainty alone spends labels on frequent, inherently ambiguous labels while a rare
    label's classifier, trained on a handful of positives, decides most of the exact-set errors.
    Each label j gets weight (1 + m_j)^-1/2, m_j = the pool's expected count of j under the model
    (the sum of its probabilities: no labels needed). Multi-label: the weighted mean of per-label
    closeness to the decision threshold, 1 - |2p - 1|. Single-label: margin uncertainty times the
    expected weight of the row's class.
    """
    p = as_prob_matrix(probs, multi_label=multi_label)
    if p.shape[0] == 0:
        return np.zeros(0)
    weight = 1.0 / np.sqrt(1.0 + p.sum(axis=0))
    weight /= weight.max()
    if multi_label:
        closeness = 1.0 - np.abs(2.0 * p - 1.0)
        return (closeness * weight).sum(axis=1) / weight.sum()
    return margin_scores(p) * (p @ weight)


_MEASURE_FUNCS = {
    "least_confidence": least_confidence_scores,
    "margin": margin_scores,
    "entropy": entropy_scores,
}


def uncertainty_scores(probs, *, measure: str = "margin", multi_label: bool = False) -> np.ndarray:
    """Dispatch to one of ``MEASURES`` by name."""
    if measure not in _MEASURE_FUNCS:
        raise ValueError(f"measure: expected one of {list(MEASURES)}, got {measure!r}")
    return _MEASURE_FUNCS[measure](probs, multi_label=multi_label)


def token_uncertainty_scores(token_probs: Sequence, *, measure: str = "margin",
                             reduce: str = "max") -> np.ndarray:
    """One score per turn from per-token tag distributions (a list of (t, n_tags) arrays).

    ``reduce="max"`` takes the least certain token (one doubtful span is worth a look, and most
    tokens are a confident "O"); ``"mean"`` averages. A turn with no tokens scores 0.
    """
    if reduce not in ("max", "mean"):
        raise ValueError(f"reduce: expected 'max' or 'mean', got {reduce!r}")
    out = np.zeros(len(token_probs))
    for i, tp in enumerate(token_probs):
        tp = np.asarray(tp, dtype=np.float64)
        if tp.size == 0:
            continue
        per_token = uncertainty_scores(tp.reshape(len(tp), -1), measure=measure)
        out[i] = per_token.max() if reduce == "max" else per_token.mean()
    return out


def alignment_scores(misalignment_probs) -> np.ndarray:
    """Uncertainty of the response-fit verdict: 1 at p = 0.5, 0 at p in {0, 1}.

    Accepts (n,) probabilities of "misaligned" or (n, 2) rows; NaN (a turn with no response)
    scores 0, since there is no verdict to learn from it.
    """
    p = np.asarray(misalignment_probs, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 2:
        p = p[:, 1]
    if p.ndim != 1:
        raise ValueError(f"misalignment_probs: expected shape (n,) or (n, 2), got {p.shape}")
    known = ~np.isnan(p)
    if known.any() and (p[known].min() < -1e-6 or p[known].max() > 1 + 1e-6):
        raise ValueError(f"misalignment_probs: expected values in [0, 1], got range "
                         f"[{p[known].min():.4g}, {p[known].max():.4g}]")
    return np.where(known, 1.0 - np.abs(2.0 * np.nan_to_num(p, nan=0.0) - 1.0), 0.0).clip(0, 1)


def normalise_scores(scores, *, method: str = "rank") -> np.ndarray:
    """Put one head's scores on a common [0, 1] scale before combining heads.

    ``rank`` (percentile; robust to heads whose raw scores bunch up differently) or ``minmax``.
    Constant scores map to 0.5 (rank) or 0 (minmax): that head then does not affect the order.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores: expected shape (n,), got {s.shape}")
    if s.size <= 1:
        return np.full(s.shape, 0.5 if method == "rank" else 0.0)
    if method == "rank":
        return (rankdata(s, method="average") - 1.0) / (s.size - 1)
    if method == "minmax":
        span = s.max() - s.min()
        return (s - s.min()) / span if span > 0 else np.zeros_like(s)
    raise ValueError(f"method: expected 'rank' or 'minmax', got {method!r}")


def multi_head_scores(intent_probs=None, *, token_probs=None, sentiment_probs=None,
                      misalignment_probs=None, weights: dict | None = None, measure: str = "margin",
                      multi_label: bool = False, normalise: str = "rank") -> np.ndarray:
    """Combine intent, entity-token, sentiment (and optionally alignment) uncertainty.

    Each head present is scored, normalised to [0, 1] (``normalise_scores``) and averaged with
    ``weights`` (keys ``intent``, ``entity``, ``sentiment``, ``alignment``; default 1 each).
    """
    heads = {}
    if intent_probs is not None:
        heads["intent"] = uncertainty_scores(intent_probs, measure=measure, multi_label=multi_label)
    if token_probs is not None:
        heads["entity"] = token_uncertainty_scores(token_probs, measure=measure)
    if sentiment_probs is not None:
        heads["sentiment"] = uncertainty_scores(sentiment_probs, measure=measure)
    if misalignment_probs is not None:
        heads["alignment"] = alignment_scores(misalignment_probs)
    if not heads:
        raise ValueError("multi_head_scores: expected at least one head's probabilities, got none")
    sizes = {name: len(s) for name, s in heads.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"multi_head_scores: expected every head to have the same rows, got {sizes}")
    weights = {**{name: 1.0 for name in heads}, **(weights or {})}
    total = sum(weights[name] for name in heads)
    if total <= 0:
        raise ValueError(f"weights: expected a positive sum over present heads, got {weights}")
    return sum(weights[n] * normalise_scores(s, method=normalise) for n, s in heads.items()) / total


def random_scores(n: int, *, seed: int = 0) -> np.ndarray:
    """Uniform random scores: the baseline every strategy must beat."""
    return np.random.default_rng(seed).random(n)


def committee_scores(committee_probs, *, multi_label: bool = False) -> np.ndarray:
    """BALD-style disagreement of a committee (e.g. heads fit on bootstrap resamples), in [0, 1].

    ``committee_probs`` is (m, n, k). Mutual information H(mean) - mean(H) is high only where the
    members *disagree*: a turn every member finds ambiguous (flat but agreeing distributions,
    e.g. "yes, that's right" whose intent lives in the context) scores low, unlike plain entropy.
    """
    c = np.asarray(committee_probs, dtype=np.float64)
    if c.ndim != 3 or c.shape[0] < 2:
        raise ValueError(f"committee_probs: expected (m >= 2, n, k), got shape {c.shape}")
    for member in c:
        as_prob_matrix(member, multi_label=multi_label, name="committee_probs")
    mean = c.mean(axis=0)
    if multi_label:
        def h(p):
            return -(p * np.log(p + _EPS) + (1 - p) * np.log(1 - p + _EPS))
        return ((h(mean) - h(c).mean(axis=0)).sum(axis=1) / (c.shape[2] * np.log(2))).clip(0, 1)
    if c.shape[2] == 1:
        return np.zeros(c.shape[1])
    def h(p):
        return -(p * np.log(p + _EPS)).sum(axis=-1)
    return ((h(mean) - h(c).mean(axis=0)) / np.log(c.shape[2])).clip(0, 1)
