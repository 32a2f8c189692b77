"""One entry point for choosing what to label next: ``select_batch`` and ``rank_pool``.

A strategy name is ``<base>`` or ``<base>+<diversity>``: the base says how uncertain each pool row
is (``strategies``), the optional diversity step spreads the batch over the embedding space
(``diversity``). ``badge`` and ``coreset`` are complete recipes on their own. Before any model
exists (no probabilities yet) every model-based strategy falls back to a diverse cold-start
sample of the embeddings, so the first labels already cover the pool.

``rank_pool`` orders the whole pool for the precomputed queue: the first ``batch_size`` rows are
exactly ``select_batch``'s batch, the rest follow by score, so serving never waits for a model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.active import diversity as div
from pipeline.active import strategies as st

BASE_STRATEGIES = ("random", "least_confidence", "margin", "entropy", "multi_head",
                   "alignment_driven", "bald", "badge", "coreset", "rarity", "second_best",
                   "focused_margin", "local_margin", "cardinality_margin")
DIVERSITY_METHODS = ("kmeans_pp", "cluster", "prefilter", "adaptive")
COLD_START_METHODS = ("representative", "kmeans_pp", "k_center", "random")
_SCORED = ("least_confidence", "margin", "entropy", "multi_head", "alignment_driven", "bald", "rarity", "second_best",
           "focused_margin", "local_margin", "cardinality_margin")
# Chosen by bench/bench_active.py (3 repeats each; bench/out/active.json; `--report` prints it):
# local_margin scores (margin, discounted for flat rows nearer the labelled turns than the pool's
# median row) after a k-means "representative" cold start; the batch is spread by "adaptive":
# single-label data takes Zhdanov's pre-filter (top 10 x batch, k-means, nearest the centres),
# multi-label data clusters the whole pool and takes each cluster's top row (more coverage: on
# multi-label exact-set accuracy uncertainty alone barely beats random, and the pre-filter fell
# 1.9 points behind it mid-curve). Labels to 95% of full-data accuracy vs random, fast head with
# production's calibration: Bitext 140 vs 290 (-52%), SGD 1025 vs 2125 (-52%), NLU++ 1525 vs 1575
# (-3%; no strategy tried saves much there); worst gap vs random at any budget +2.4 / +0.8 / -0.5
# points. margin+prefilter: -52% / -26% / -6%, worst gap +2.5 / -0.7 / -2.2 (SGD's context-only
# turns stay flat however often they are labelled, and margin keeps asking for them). The
# multi-label choice rests on one data set (NLU++), made after seeing it.
# local_margin needs ``labeled_embeddings`` (the worker passes the labelled pool turns'); without
# them it is plain margin, i.e. the default then behaves as margin+adaptive.
# Since 2026-11-29 the default base is cardinality_margin: local_margin x Li & Guo's (2013) label-
# cardinality inconsistency, identical to local_margin on single-label data (so Bitext and SGD are as
# above). With sessions starting cold (pipeline.simulate.run_once), NLU++ over 6 repeats: 1425 labels
# vs random 1625 (-12%), AUC +1.8 points, worst gap +0.16; local_margin+adaptive 1575 (-3%), -0.38.
# 50% on NLU++ is out of reach for any selection rule with this learner: bench/bench_active_ceiling.py
# picks each batch greedily by *test* accuracy (15 candidates a step, 3 repeats) and still reaches
# only 0.485 at 775 labels and 0.506 at 875 (target 0.508; random 0.445 at 775); a stronger C
# (x2 to x8) at 775 labels does not help either: the curve is data-limited.
DEFAULT_STRATEGY = "cardinality_margin+adaptive"
DEFAULT_COLD_START = "representative"


@dataclass(frozen=True)
class Strategy:
    """A parsed strategy name."""

    base: str
    diversity: str | None = None

    @property
    def name(self) -> str:
        return self.base if self.diversity is None else f"{self.base}+{self.diversity}"


def parse_strategy(name: str) -> Strategy:
    """``"margin+prefilter"`` -> Strategy("margin", "prefilter"); errors list what is allowed."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"strategy: expected a name like 'margin' or 'margin+prefilter', got {name!r}")
    base, _, diversity = name.partition("+")
    if base not in BASE_STRATEGIES:
        raise ValueError(f"strategy: expected a base in {list(BASE_STRATEGIES)}, got {base!r}")
    if diversity and diversity not in DIVERSITY_METHODS:
        raise ValueError(f"strategy: expected a diversity step in {list(DIVERSITY_METHODS)}, got {diversity!r}")
    if diversity and base not in _SCORED:
        raise ValueError(f"strategy: a diversity step needs a scored base {list(_SCORED)}, got {base!r}")
    return Strategy(base, diversity or None)


@dataclass(frozen=True)
class PoolArrays:
    """What a model says about the unlabelled pool (any field may be None before a model)."""

    n: int
    probs: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    token_probs: list | None = None
    sentiment_probs: np.ndarray | None = None
    misalignment_probs: np.ndarray | None = None
    labeled_embeddings: np.ndarray | None = None
    committee_probs: np.ndarray | None = None   # (m, n, k) from m committee members (bald)
    multi_label: bool = False
    labeled_cardinality: float | None = None     # mean labels per labelled turn (cardinality_margin)


_NOT_PER_ROW = ("labeled_embeddings", "multi_label", "committee_probs", "labeled_cardinality")


def _pool(**arrays) -> PoolArrays:
    """Check every per-row array describes the same number of pool rows."""
    rows = {k: len(v) for k, v in arrays.items()
            if v is not None and k not in _NOT_PER_ROW}
    if arrays.get("committee_probs") is not None:
        rows["committee_probs"] = np.shape(arrays["committee_probs"])[1]
    if not rows:
        raise ValueError("select_batch: expected at least one of probs, embeddings, token_probs, "
                         "sentiment_probs, misalignment_probs; got none")
    if len(set(rows.values())) != 1:
        raise ValueError(f"select_batch: expected every array to have the same number of rows, got {rows}")
    return PoolArrays(n=next(iter(rows.values())), **arrays)


def _has_model_output(base: str, pool: PoolArrays) -> bool:
    if base in ("random", "coreset"):
        return True
    if base == "multi_head":
        return any(v is not None for v in (pool.probs, pool.token_probs, pool.sentiment_probs))
    if base == "alignment_driven":
        return pool.misalignment_probs is not None
    if base == "bald":
        return pool.committee_probs is not None
    return pool.probs is not None


def pool_scores(base: str, pool: PoolArrays, *, seed: int = 0) -> np.ndarray | None:
    """Per-row uncertainty for a scored base (None for random / badge / coreset)."""
    if base in ("least_confidence", "margin", "entropy"):
        return st.uncertainty_scores(pool.probs, measure=base, multi_label=pool.multi_label)
    if base == "local_margin":
        return st.local_margin_scores(pool.probs, embeddings=pool.embeddings,
                                      labeled_embeddings=pool.labeled_embeddings, multi_label=pool.multi_label)
    if base == "cardinality_margin":
        return st.cardinality_margin_scores(pool.probs, embeddings=pool.embeddings,
                                            labeled_embeddings=pool.labeled_embeddings,
                                            labeled_cardinality=pool.labeled_cardinality,
                                            multi_label=pool.multi_label)
    if base == "focused_margin":
        return st.focused_margin_scores(pool.probs, multi_label=pool.multi_label)
    if base == "second_best":
        return st.second_best_scores(pool.probs, multi_label=pool.multi_label)
    if base == "rarity":
        return st.rarity_weighted_scores(pool.probs, multi_label=pool.multi_label)
    if base == "multi_head":
        return st.multi_head_scores(pool.probs, token_probs=pool.token_probs,
                                    sentiment_probs=pool.sentiment_probs, multi_label=pool.multi_label)
    if base == "alignment_driven":
        return st.alignment_scores(pool.misalignment_probs)
    if base == "bald":
        return st.committee_scores(pool.committee_probs, multi_label=pool.multi_label)
    return None


def top_k(scores: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """Indices of the ``k`` highest scores, ties broken by a seeded shuffle (not by row order)."""
    order = np.random.default_rng(seed).permutation(len(scores))
    return order[np.argsort(-scores[order], kind="stable")][:k]


def cold_start_batch(pool: PoolArrays, *, batch_size: int, method: str = DEFAULT_COLD_START,
                     seed: int = 0) -> np.ndarray:
    """Diverse sampling before any model: needs embeddings; without them, a seeded random sample."""
    if method not in COLD_START_METHODS:
        raise ValueError(f"cold_start: expected one of {list(COLD_START_METHODS)}, got {method!r}")
    k = min(batch_size, pool.n)
    if pool.embeddings is None or method == "random":
        return np.random.default_rng(seed).permutation(pool.n)[:k]
    if method == "representative":
        return div.representative_batch(pool.embeddings, batch_size=k, seed=seed)
    if method == "kmeans_pp":
        return div.kmeans_pp_batch(pool.embeddings, batch_size=k, seed=seed)
    return div.k_center_batch(pool.embeddings, batch_size=k, seed=seed,
                              labeled_embeddings=pool.labeled_embeddings)


def _diverse(diversity: str, scores: np.ndarray, pool: PoolArrays, k: int, seed: int) -> np.ndarray:
    if pool.embeddings is None:
        raise ValueError(f"strategy '+{diversity}': expected embeddings for the diversity step, got None")
    if diversity == "kmeans_pp":
        return div.kmeans_pp_batch(pool.embeddings, batch_size=k, weights=scores, seed=seed)
    if diversity == "adaptive":  # see DEFAULT_STRATEGY: the label kind decides how much to spread
        diversity = "cluster" if pool.multi_label else "prefilter"
    if diversity == "cluster":
        return div.cluster_top_batch(pool.embeddings, scores, batch_size=k, seed=seed)
    return div.prefilter_cluster_batch(pool.embeddings, scores, batch_size=k, seed=seed)


def _select(strategy: Strategy, pool: PoolArrays, *, batch_size: int, cold_start: str,
            seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The batch and the scores it came from (None when the strategy has no per-row score)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    k = min(int(batch_size), pool.n)
    if k == 0:
        return np.zeros(0, dtype=np.int64), None
    if not _has_model_output(strategy.base, pool):
        return cold_start_batch(pool, batch_size=k, method=cold_start, seed=seed), None
    if strategy.base == "random":
        return np.random.default_rng(seed).permutation(pool.n)[:k], None
    if strategy.base == "coreset":
        if pool.embeddings is None:
            raise ValueError("strategy 'coreset': expected embeddings, got None")
        return div.k_center_batch(pool.embeddings, batch_size=k, seed=seed,
                                  labeled_embeddings=pool.labeled_embeddings), None
    if strategy.base == "badge":
        if pool.embeddings is None:
            raise ValueError("strategy 'badge': expected embeddings, got None")
        return div.badge_batch(pool.probs, pool.embeddings, batch_size=k,
                               multi_label=pool.multi_label, seed=seed), None
    scores = pool_scores(strategy.base, pool, seed=seed)
    if strategy.diversity is None:
        return top_k(scores, k, seed=seed), scores
    return _diverse(strategy.diversity, scores, pool, k, seed), scores


def select_batch(strategy: str = DEFAULT_STRATEGY, *, batch_size: int, probs=None, embeddings=None,
                 token_probs=None, sentiment_probs=None, misalignment_probs=None,
                 labeled_embeddings=None, committee_probs=None, multi_label: bool = False,
                 labeled_cardinality: float | None = None, cold_start: str = DEFAULT_COLD_START,
                 seed: int = 0) -> np.ndarray:
    """Row indices (into the unlabelled pool arrays) of the next ``batch_size`` turns to label.

    ``probs``: intent probabilities (n, k); ``embeddings``: (n, dim) turn embeddings;
    ``token_probs``: per-turn (t, n_tags) tag distributions; ``sentiment_probs`` (n, s);
    ``misalignment_probs`` (n,); ``labeled_embeddings``: what is already labelled (for coreset);
    ``committee_probs`` (m, n, k): probabilities from m committee members (for ``bald``);
    ``labeled_cardinality``: mean labels per labelled turn (for ``cardinality_margin``).
    """
    pool = _pool(probs=probs, embeddings=embeddings, token_probs=token_probs,
                 sentiment_probs=sentiment_probs, misalignment_probs=misalignment_probs,
                 labeled_embeddings=labeled_embeddings, committee_probs=committee_probs,
                 multi_label=multi_label, labeled_cardinality=labeled_cardinality)
    batch, _ = _select(parse_strategy(strategy), pool, batch_size=batch_size,
                       cold_start=cold_start, seed=seed)
    return np.asarray(batch, dtype=np.int64)


def rank_pool(strategy: str = DEFAULT_STRATEGY, *, batch_size: int = 20, probs=None, embeddings=None,
              token_probs=None, sentiment_probs=None, misalignment_probs=None,
              labeled_embeddings=None, committee_probs=None, multi_label: bool = False,
              labeled_cardinality: float | None = None, cold_start: str = DEFAULT_COLD_START,
              seed: int = 0) -> np.ndarray:
    """A full order of the pool (a permutation of ``range(n)``) for the precomputed queue.

    The head is ``select_batch``'s diverse batch (set ``batch_size`` to the number of labels
    expected before the next retrain); the tail follows by uncertainty, or in a seeded random
    order when the strategy has no per-row score (random, coreset, badge, cold start).
    """
    pool = _pool(probs=probs, embeddings=embeddings, token_probs=token_probs,
                 sentiment_probs=sentiment_probs, misalignment_probs=misalignment_probs,
                 labeled_embeddings=labeled_embeddings, committee_probs=committee_probs,
                 multi_label=multi_label, labeled_cardinality=labeled_cardinality)
    parsed = parse_strategy(strategy)
    head, scores = _select(parsed, pool, batch_size=batch_size, cold_start=cold_start, seed=seed)
    if scores is None and parsed.base == "badge" and _has_model_output("badge", pool):
        scores = st.margin_scores(pool.probs, multi_label=multi_label)  # BADGE's tail: most uncertain
    taken = np.zeros(pool.n, dtype=bool)
    taken[head] = True
    rest = np.flatnonzero(~taken)
    if scores is None:
        tail = rest[np.random.default_rng(seed + 1).permutation(len(rest))]
    else:
        tail = rest[top_k(scores[rest], len(rest), seed=seed)]
    order = np.concatenate([np.asarray(head, dtype=np.int64), tail.astype(np.int64)])
    if pool.embeddings is None:
        return order
    # the tail is what annotators reach before the next model: it must not open on the head's twins
    return div.defer_near_duplicates(order, pool.embeddings, window=len(head) + 10 * int(batch_size), keep=len(head))
