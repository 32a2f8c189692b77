"""Diversity-aware batch selection over embeddings, so a batch is not ten near-duplicates.

Pure functions: embeddings (n, d) and optional per-row uncertainty scores in, row indices out.
Four well-known recipes, all seeded and deterministic:

- ``kmeans_pp_batch``: k-means++ seeding (sklearn's), optionally weighted by uncertainty; with no
  weights it is the cold-start sampler (spread over the embedding space before any model exists).
- ``badge_batch``: BADGE (Ash et al., 2020): k-means++ D^2 sampling over gradient embeddings
  (p - onehot(argmax p)) (x) x, computed without materialising the (k*d)-wide vectors.
- ``k_center_batch``: greedy k-center (core-set, Sener & Savarese 2018): farthest-first from what
  is already labelled.
- ``cluster_top_batch`` / ``prefilter_cluster_batch``: cluster, then take the most uncertain row of
  each cluster; the latter clusters only the top ``beta * batch_size`` uncertain rows (Zhdanov 2019).
"""
from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

# Cosine at or above which two turns count as the same question: identical texts (1.0) and the same
# words give or take an emoji (0.99+ with the packaged MiniLM). Template siblings with another city or
# amount sit near 0.95, as do unrelated Chinese turns the English encoder reads as mostly [UNK], so the
# line is drawn above them.
NEAR_DUPLICATE_COSINE = 0.98


def _check_embeddings(embeddings, *, name: str = "embeddings") -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d (n, dim) array, got shape {x.shape}")
    if x.size and not np.isfinite(x).all():
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return x


def _check_batch(batch_size: int, n: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    return min(int(batch_size), n)


def _check_scores(scores, n: int) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != (n,):
        raise ValueError(f"scores: expected shape ({n},) to match the embeddings, got {s.shape}")
    return s


def kmeans_pp_batch(embeddings, *, batch_size: int, weights=None, seed: int = 0) -> np.ndarray:
    """k-means++ seeds as the batch; ``weights`` (e.g. uncertainty) bias the D^2 sampling."""
    x = _check_embeddings(embeddings)
    k = _check_batch(batch_size, len(x))
    if k == len(x):
        return np.arange(len(x))
    w = None
    if weights is not None:
        w = _check_scores(weights, len(x)).clip(min=0) + 1e-6  # every row stays reachable
    _, idx = kmeans_plusplus(x, k, sample_weight=w, random_state=seed)
    return np.asarray(idx, dtype=np.int64)


def gradient_embedding_factors(probs, *, multi_label: bool = False) -> np.ndarray:
    """The class factor a of BADGE's gradient embedding g = a (x) x for the predicted label.

    For softmax cross-entropy with the model's own guess as the label, a = p - onehot(argmax p);
    for independent sigmoids, a = p - 1[p >= 0.5]. Small |a| = confident row = short gradient.
    """
    p = np.asarray(probs, dtype=np.float64)
    if multi_label:
        return p - (p >= 0.5)
    a = p.copy()
    a[np.arange(len(p)), p.argmax(axis=1)] -= 1.0
    return a


def badge_batch(probs, embeddings, *, batch_size: int, multi_label: bool = False,
                seed: int = 0) -> np.ndarray:
    """BADGE: k-means++ over gradient embeddings (uncertain AND diverse), exact but cheap.

    ||a_i (x) x_i - a_c (x) x_c||^2 = |a_i|^2|x_i|^2 + |a_c|^2|x_c|^2 - 2 (a_i.a_c)(x_i.x_c), so each
    new centre costs two matrix-vector products instead of an (n, k*d) matrix.
    """
    x = _check_embeddings(embeddings)
    a = gradient_embedding_factors(probs, multi_label=multi_label)
    if a.shape[0] != x.shape[0]:
        raise ValueError(f"probs: expected {x.shape[0]} rows to match the embeddings, got {a.shape[0]}")
    k = _check_batch(batch_size, len(x))
    sq_norm = (a * a).sum(axis=1) * (x * x).sum(axis=1)
    rng = np.random.default_rng(seed)
    first = int(np.argmax(sq_norm))  # BADGE starts from the largest gradient
    chosen = [first]
    dist = np.maximum(sq_norm + sq_norm[first] - 2 * (a @ a[first]) * (x @ x[first]), 0)
    for _ in range(k - 1):
        dist[chosen] = 0.0
        total = dist.sum()
        if total <= 1e-12:  # everything left coincides with a chosen centre: fall back to order
            rest = np.setdiff1d(np.arange(len(x)), chosen)
            chosen.extend(rest[np.argsort(-sq_norm[rest], kind="stable")][: k - len(chosen)].tolist())
            break
        c = int(rng.choice(len(x), p=dist / total))
        chosen.append(c)
        d_new = np.maximum(sq_norm + sq_norm[c] - 2 * (a @ a[c]) * (x @ x[c]), 0)
        dist = np.minimum(dist, d_new)
    return np.asarray(chosen, dtype=np.int64)


def k_center_batch(embeddings, *, batch_size: int, labeled_embeddings=None,
                   seed: int = 0) -> np.ndarray:
    """Greedy k-center: repeatedly take the row farthest from everything labelled or chosen."""
    x = _check_embeddings(embeddings)
    k = _check_batch(batch_size, len(x))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    sq = (x * x).sum(axis=1)
    if labeled_embeddings is not None and len(labeled_embeddings):
        lab = _check_embeddings(labeled_embeddings, name="labeled_embeddings")
        d2 = sq[:, None] + (lab * lab).sum(axis=1)[None, :] - 2 * x @ lab.T
        dist = np.maximum(d2.min(axis=1), 0)
        chosen = []
    else:
        first = int(np.random.default_rng(seed).integers(len(x)))
        chosen = [first]
        dist = np.maximum(sq + sq[first] - 2 * x @ x[first], 0)
    while len(chosen) < k:
        dist[chosen] = -1.0
        c = int(np.argmax(dist))
        chosen.append(c)
        dist = np.minimum(dist, np.maximum(sq + sq[c] - 2 * x @ x[c], 0))
    return np.asarray(chosen, dtype=np.int64)


def _kmeans_labels(x: np.ndarray, k: int, *, weights=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    km = KMeans(n_clusters=k, n_init=1, max_iter=50, random_state=seed)
    labels = km.fit_predict(x, sample_weight=weights)
    return labels, km.cluster_centers_


def representative_batch(embeddings, *, batch_size: int, seed: int = 0) -> np.ndarray:
    """Cold start: k-means into ``batch_size`` clusters, take the row nearest each centre.

    Picks typical turns of every region of the pool, which tends to cover the classes roughly in
    proportion to how distinct they are, before any label exists.
    """
    x = _check_embeddings(embeddings)
    k = _check_batch(batch_size, len(x))
    if k == len(x):
        return np.arange(len(x))
    labels, centres = _kmeans_labels(x, k, seed=seed)
    d2 = ((x - centres[labels]) ** 2).sum(axis=1)
    return _best_per_cluster(labels, -d2, k)


def _best_per_cluster(labels: np.ndarray, merit: np.ndarray, k: int) -> np.ndarray:
    """For each cluster id, the row with the highest merit (clusters may be empty: skipped)."""
    order = np.lexsort((-merit, labels))  # by cluster, then merit descending
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    picks = order[first]
    return picks[np.argsort(-merit[picks], kind="stable")][:k].astype(np.int64)


def cluster_top_batch(embeddings, scores, *, batch_size: int, seed: int = 0) -> np.ndarray:
    """Cluster the whole pool into ``batch_size`` groups; take each group's most uncertain row.

    A group whose most uncertain row is still less uncertain than the pool's median row is one the
    model is sure of throughout (on the sample data: four groups of "thanks, bye" turns at
    P(thanks_goodbye) = 1.00 took a fifth of every batch); its place goes to the most uncertain
    rows elsewhere that repeat no row already in the batch.
    """
    x = _check_embeddings(embeddings)
    s = _check_scores(scores, len(x))
    k = _check_batch(batch_size, len(x))
    if k == len(x):
        return np.argsort(-s, kind="stable")
    labels, _ = _kmeans_labels(x, k, seed=seed)
    picks = _best_per_cluster(labels, s, k)
    picks = picks[s[picks] >= np.median(s)]
    batch = _top_up(picks, s, k, embeddings=x)
    return batch[np.argsort(-s[batch], kind="stable")]     # served in this order: most uncertain first


def prefilter_cluster_batch(embeddings, scores, *, batch_size: int, beta: int = 10,
                            seed: int = 0) -> np.ndarray:
    """Zhdanov's diverse mini-batch: keep the ``beta * batch_size`` most uncertain rows, cluster
    them (weighted by uncertainty) into ``batch_size`` groups, take the row nearest each centre."""
    x = _check_embeddings(embeddings)
    s = _check_scores(scores, len(x))
    k = _check_batch(batch_size, len(x))
    if beta < 1:
        raise ValueError(f"beta: expected an integer >= 1, got {beta!r}")
    top = np.argsort(-s, kind="stable")[: min(len(x), beta * k)]
    if len(top) == k:
        return top
    labels, centres = _kmeans_labels(x[top], k, weights=s[top] + 1e-6, seed=seed)
    d2 = ((x[top] - centres[labels]) ** 2).sum(axis=1)
    picks = top[_best_per_cluster(labels, -d2, k)]
    return _top_up(picks, s, k)


def _top_up(picks: np.ndarray, scores: np.ndarray, k: int, *, embeddings=None) -> np.ndarray:
    """Fill a batch short of ``k`` (empty clusters) with the most uncertain rows not yet picked;
    with ``embeddings``, rows repeating a row already in the batch come only after all others."""
    if len(picks) >= k:
        return picks[:k]
    taken = np.zeros(len(scores), dtype=bool)
    taken[picks] = True
    rest = np.flatnonzero(~taken)
    rest = rest[np.argsort(-scores[rest], kind="stable")]
    if embeddings is not None:
        order = defer_near_duplicates(np.concatenate([picks, rest]), embeddings, window=len(picks) + 10 * k,
                                      keep=len(picks))
        rest = order[len(picks):]
    return np.concatenate([picks, rest[: k - len(picks)]]).astype(np.int64)


def defer_near_duplicates(order, embeddings, *, window: int, keep: int = 0,
                          threshold: float = NEAR_DUPLICATE_COSINE) -> np.ndarray:
    """``order`` with every row among its first ``window`` positions that repeats an earlier row
    (cosine >= ``threshold``) moved behind the window's other rows; the first ``keep`` rows never move.

    Why: two annotators labelling the same question from two conversations at once teach the
    model one thing twice; after the next retrain the twin is usually no longer uncertain. Only
    the window is checked (the rows served before the next retrain): the cost stays window^2.
    """
    order = np.asarray(order, dtype=np.int64)
    window = min(int(window), len(order))
    if window <= keep or window < 2:
        return order
    x = _check_embeddings(embeddings)[order[:window]]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    similar = x @ x.T >= threshold
    kept, deferred = list(range(keep)), []
    for position in range(keep, window):
        (deferred if similar[position, kept].any() else kept).append(position)
    head = order[kept + deferred]
    return np.concatenate([head, order[window:]])
