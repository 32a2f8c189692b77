"""Evidence for the analyst: the run's sentence embeddings (published by the worker beside its model),
the nearest labelled turns of a turn, and a 2-D map of the turns.

Why here and not in the database: the worker writes ``embeddings.npz`` (ids + float16 vectors) into
its result folder; reading that file once per run (cached while unchanged) is cheaper than storing
100k x 384 floats in DuckDB, and a run without it simply has no map (the pages say so).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from store.labels import rename_map

from store.analysis import cached, current_labels, data_version, labelled_turn_ids, resolve_run

EMBEDDINGS_FILE = "embeddings.npz"
MAP_SAMPLE = 2500       # turns on the 2-D map: enough to see clusters, light enough to redraw on every click
_embedding_cache: dict[tuple, "Embeddings"] = {}


@dataclass(frozen=True)
class Embeddings:
    """A run's published sentence embeddings: ids, (n, d) L2-normalised float32 vectors, id -> row."""

    ids: list
    vectors: np.ndarray
    index: dict


def embeddings_path(db, run: dict | None) -> Path | None:
    """Where the worker published the run's sentence embeddings (beside its model), if it still exists."""
    if not run:
        return None
    candidates = []
    if run.get("artifact_dir"):
        candidates.append(Path(run["artifact_dir"]).parent / EMBEDDINGS_FILE)
    from store.jobfiles import RESULTS, default_jobs_dir

    candidates.append(default_jobs_dir(db.path) / RESULTS / run["run_id"] / EMBEDDINGS_FILE)
    return next((p for p in candidates if p.is_file()), None)


def load_embeddings(db, project: str = "default", *, run_id: str | None = None) -> Embeddings | None:
    """The run's embeddings (cached while the file is unchanged), or None if it published none."""
    path = embeddings_path(db, resolve_run(db, project, run_id))
    if path is None:
        return None
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _embedding_cache:
        with np.load(path, allow_pickle=False) as data:
            ids, vectors = [str(i) for i in data["ids"]], data["vectors"].astype(np.float32)
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        _embedding_cache.clear()
        _embedding_cache[key] = Embeddings(ids, vectors, {t: i for i, t in enumerate(ids)})
    return _embedding_cache[key]


_masks: dict[tuple, np.ndarray] = {}


def _labelled_mask(db, project: str, loaded: Embeddings) -> np.ndarray:
    """(n,) bool over the embedding rows: has a current label. Kept per data version and embeddings file."""
    key = (id(loaded), db.path, project, data_version(db, project))
    if key not in _masks:
        labelled = labelled_turn_ids(db, project)
        _masks.clear()
        _masks[key] = np.fromiter((t in labelled for t in loaded.ids), dtype=bool, count=len(loaded.ids))
    return _masks[key]


def nearest_labelled(db, project: str = "default", turn_id: str = "", *, k: int = 5,
                     run_id: str | None = None) -> pd.DataFrame | None:
    """The ``k`` labelled turns most similar (cosine of embeddings) to ``turn_id``, with their labels.
    None when the run published no embeddings (the page says so)."""
    loaded = load_embeddings(db, project, run_id=run_id)
    if loaded is None:
        return None
    ids, vectors, index = loaded.ids, loaded.vectors, loaded.index
    if turn_id not in index:
        return pd.DataFrame(columns=["turn_id", "similarity", "text", "intents", "sentiment"])
    mask = _labelled_mask(db, project, loaded)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):                      # see pca_2d
        sims = vectors @ vectors[index[turn_id]]
    sims[~mask] = -np.inf
    sims[index[turn_id]] = -np.inf
    k = min(k, int(np.isfinite(sims).sum()))
    if k == 0:
        return pd.DataFrame(columns=["turn_id", "similarity", "text", "intents", "sentiment"])
    top = np.argpartition(-sims, k - 1)[:k]
    best = top[np.argsort(-sims[top])]
    chosen = [ids[i] for i in best]
    labels = current_labels(db, project, chosen)
    texts = dict(db.query("SELECT turn_id, text FROM turns WHERE turn_id IN (SELECT unnest($ids))", {"ids": chosen}))
    return pd.DataFrame([{"turn_id": t, "similarity": round(float(vectors[index[t]] @ vectors[index[turn_id]]), 4),
                          "text": texts.get(t, ""), "intents": labels.get(t, {}).get("intents", []),
                          "sentiment": labels.get(t, {}).get("sentiment")} for t in chosen])


_projections: dict[tuple, tuple] = {}


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The rows projected on their top two principal components (eigenvectors of the d x d covariance:
    a small symmetric eigenproblem, cheaper and steadier than an SVD of the n x d matrix).

    BLAS is held to one thread: on a busy 2-core machine OpenBLAS's threads contend and this took 2-5 s
    instead of 0.15 s (measured)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        centred = vectors - vectors.mean(axis=0)
        values, vecs = np.linalg.eigh(centred.T @ centred)
        return centred @ vecs[:, np.argsort(values)[::-1][:2]]


def _projection(loaded: Embeddings, *, sample: int, seed: int) -> tuple[list, np.ndarray]:
    """(ids, (m, 2) coordinates) of a seeded sample; depends only on the embeddings, so kept per file."""
    key = (id(loaded), sample, seed)
    if key not in _projections:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(loaded.ids), min(sample, len(loaded.ids)), replace=False))
        _projections.clear()
        _projections[key] = ([loaded.ids[i] for i in pick], pca_2d(loaded.vectors[pick].astype(np.float64)))
    return _projections[key]


def embedding_map(db, project: str = "default", *, run_id: str | None = None, sample: int = MAP_SAMPLE,
                  seed: int = 0) -> pd.DataFrame | None:
    """A 2-D PCA map of (a seeded sample of) the run's turns: x, y, intent, misalignment_prob, text.
    Cached per data version (the labels colour it)."""
    run = resolve_run(db, project, run_id)
    loaded = load_embeddings(db, project, run_id=run["run_id"] if run else None)
    if loaded is None:
        return None
    return cached("map", db, project, lambda: _map_frame(db, project, run, loaded, sample, seed),
                  run["run_id"], id(loaded), sample, seed)


def _map_frame(db, project: str, run: dict, loaded: Embeddings, sample: int, seed: int) -> pd.DataFrame:
    chosen, xy = _projection(loaded, sample=sample, seed=seed)
    predicted = db.query_df("SELECT turn_id, intents[1] AS pred_intent, misalignment_prob FROM predictions "
                            "WHERE run_id = $run AND turn_id IN (SELECT unnest($ids))", {"run": run["run_id"], "ids": chosen})
    texts = db.query_df("SELECT turn_id, text FROM turns WHERE turn_id IN (SELECT unnest($ids))", {"ids": chosen})
    # the map's colour is a turn's first current intent: the ids-only label query, not the whole model
    # snapshot (0.4 s at 100k turns on the page's cold first render)
    labelled = current_labels(db, project, chosen)
    gold = pd.DataFrame({"turn_id": list(labelled), "gold_intent": [(v["intents"] or [None])[0] for v in labelled.values()]},
                        columns=["turn_id", "gold_intent"])
    frame = pd.DataFrame({"turn_id": chosen, "x": xy[:, 0], "y": xy[:, 1]})
    frame = frame.merge(texts, on="turn_id", how="left").merge(predicted, on="turn_id", how="left")
    frame = frame.merge(gold, on="turn_id", how="left")
    names = rename_map(db, project, "intent")
    frame["intent"] = frame["gold_intent"].fillna(frame["pred_intent"].map(lambda v: names.get(v, v)))
    frame["intent"] = frame["intent"].fillna("(none)")
    frame = frame.drop(columns=["gold_intent", "pred_intent"])
    return frame
