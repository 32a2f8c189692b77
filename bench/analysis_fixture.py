"""A synthetic project of any size for the analyst views: turns, overlapping annotations, runs, predictions.

Why synthetic: the analyst pages must stay fast at 100k turns, and no public set has 100k dialog
turns with several annotators, model runs and alignment scores. Rows go in through Arrow in bulk
(``Store.write`` + ``register_table``), the way the importer and the run ingest write, so building
100k turns takes seconds. Deterministic for a seed. Used by bench/bench_analysis_pages.py and tests.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from store.db import register_table

SPANS = pa.list_(pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string())]))
CONTEXT = pa.list_(pa.struct([("speaker", pa.string()), ("text", pa.string())]))
ANNOTATORS = ["ann", "bob", "cyd", "dee"]
SENTIMENTS = ["negative", "neutral", "positive"]


def _intents(k: int) -> list[str]:
    return [f"intent_{i:02d}" for i in range(k)]


def _turns(n: int, project: str, rng) -> pa.Table:
    words = np.array(["order", "refund", "card", "flight", "hotel", "late", "cancel", "charge", "help", "account"])
    texts = [" ".join(words[rng.integers(0, len(words), 6)]) + f" #{i}" for i in range(n)]
    return pa.table({
        "turn_id": [f"t{i:06d}" for i in range(n)], "project": [project] * n,
        "conversation_id": [f"c{i // 4:06d}" for i in range(n)], "turn_index": pa.array(np.arange(n) % 4, pa.int32()),
        "context": pa.array([[] for _ in range(n)], CONTEXT), "text": texts,
        "response": [f"Sure, I can help with that ({i})." for i in range(n)], "meta": ["{}"] * n,
        "content_hash": [f"h{i}" for i in range(n)], "import_id": ["imp-bench"] * n, "source": [None] * n,
        "seq": pa.array(np.arange(n), pa.int64())})


def _annotations(truth: np.ndarray, labelled: np.ndarray, intents: list[str], project: str, rng,
                 *, overlap_share: float, start: datetime) -> pa.Table:
    """One submit per labelled turn, a second by another annotator on ``overlap_share`` of them; 10% of
    intents and sentiments disagree with the truth; durations gamma-distributed (seconds to a minute)."""
    n_ann = len(ANNOTATORS)
    first = rng.integers(0, n_ann, len(labelled))
    second = (first + rng.integers(1, n_ann, len(labelled))) % n_ann
    doubled = rng.random(len(labelled)) < overlap_share
    turn_rows = np.concatenate([labelled, labelled[doubled]])
    who = np.concatenate([first, second[doubled]])
    order = np.concatenate([np.arange(len(labelled)), np.flatnonzero(doubled)])
    m = len(turn_rows)
    intent = np.where(rng.random(m) > 0.1, truth[turn_rows], rng.integers(0, len(intents), m))
    sentiment = (turn_rows + (rng.random(m) < 0.1)) % 3
    has_span = (turn_rows + who) % 3 > 0
    names = np.array(ANNOTATORS)[who]
    created = [start + timedelta(seconds=int(o * 20 + j % 7)) for j, o in enumerate(order)]
    span = [{"start": 0, "end": 5, "label": "product"}]
    return pa.table({
        "annotation_id": [f"a{t}-{w}" for t, w in zip(turn_rows, names)], "turn_id": [f"t{t:06d}" for t in turn_rows],
        "project": [project] * m, "annotator": names.tolist(), "action": ["submit"] * m,
        "intents": [[intents[i]] for i in intent], "entities": pa.array([span if h else [] for h in has_span], SPANS),
        "sentiment": [SENTIMENTS[x] for x in sentiment], "aligned": pa.array([None] * m, pa.bool_()),
        "corrected_response": pa.array([None] * m, pa.string()), "flagged": [False] * m,
        "note": pa.array([None] * m, pa.string()), "undoes": pa.array([None] * m, pa.string()),
        "duration_ms": pa.array(rng.gamma(2.0, 4000, m).astype(np.int32)), "created_at": created})


def _predictions(run_id: str, truth: np.ndarray, intents: list[str], rng, accuracy: float) -> pa.Table:
    n = len(truth)
    right = rng.random(n) < accuracy
    predicted = np.where(right, truth, rng.integers(0, len(intents), n))
    confidence = np.clip(np.where(right, rng.beta(8, 2, n), rng.beta(3, 3, n)), 0.05, 0.999)
    alignment = np.clip(rng.beta(6, 2, n), 0, 1)
    span = [{"start": 0, "end": 5, "label": "product"}]
    sentiment_probs = [json.dumps({s: 0.8}) for s in SENTIMENTS]
    return pa.table({
        "run_id": [run_id] * n, "turn_id": [f"t{i:06d}" for i in range(n)],
        "intents": [[intents[p]] for p in predicted],
        "intent_probs": [f'{{"{intents[p]}": {c:.4f}}}' for p, c in zip(predicted, confidence)],
        "entities": pa.array([span if i % 3 else [] for i in range(n)], SPANS),
        "entity_scores": [[0.9] if i % 3 else [] for i in range(n)],
        "sentiment": [SENTIMENTS[i % 3] for i in range(n)],
        "sentiment_probs": [sentiment_probs[i % 3] for i in range(n)],
        "alignment_score": alignment, "misalignment_prob": 1 - alignment,
        "uncertainty": 1 - confidence})


def _insert(con, name: str, table: pa.Table) -> None:
    register_table(con, f"incoming_{name}", table)
    con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming_{name}")
    con.unregister(f"incoming_{name}")


def build_project(db, *, n_turns: int = 100_000, labelled_share: float = 0.6, overlap_share: float = 0.1,
                  n_intents: int = 40, n_runs: int = 4, project: str = "default", seed: int = 0) -> dict:
    """Fill ``db`` (a fresh Store) with a project; returns what was built (sizes, run ids, intents)."""
    from store import labels

    rng = np.random.default_rng(seed)
    intents = _intents(n_intents)
    if labels.get_project(db, project) is None:
        labels.create_project(db, project)
    for name in intents:
        labels.add_label(db, project, "intent", name)
    for name in SENTIMENTS:
        labels.add_label(db, project, "sentiment", name)
    labels.add_label(db, project, "entity", "product")
    truth = rng.integers(0, n_intents, n_turns)
    labelled = np.sort(rng.choice(n_turns, int(labelled_share * n_turns), replace=False))
    start = datetime(2024, 5, 1)
    db.write(_insert, "turns", _turns(n_turns, project, rng))
    db.write(_insert, "annotations", _annotations(truth, labelled, intents, project, rng,
                                                  overlap_share=overlap_share, start=start))
    run_ids = []
    for r in range(n_runs):
        run_id = f"2024050{r + 1}T000000000000-fast-bench{r}"
        n_labels = int(len(labelled) * (r + 1) / n_runs)
        accuracy = 0.6 + 0.3 * (r + 1) / n_runs
        held_ids = [f"t{i:06d}" for i in labelled[:n_labels][::5]]   # the worker lists its held-out slice
        metrics = {"n_labels": n_labels, "holdout_ids": held_ids, "holdout": {"n": n_labels // 5, "intent_accuracy": accuracy,
                                                      "intent_macro_f1": accuracy - 0.03, "entity_f1": 0.7 + 0.05 * r,
                                                      "sentiment_macro_f1": 0.6 + 0.05 * r}}
        db.write(lambda con, rid=run_id, m=metrics, nl=n_labels, rr=r: con.execute(
            "INSERT INTO model_runs (run_id, project, kind, status, model_version, snapshot_hash, n_labels, metrics,"
            " timings, created_at, finished_at) VALUES (?, ?, 'fast', 'done', ?, ?, ?, ?, '{}', ?, ?)",
            [rid, project, f"v{rr + 1}-fast", f"snap{rr}", nl, json.dumps(m), start + timedelta(days=rr),
             start + timedelta(days=rr, minutes=5)]))
        db.write(_insert, "predictions", _predictions(run_id, truth, intents, rng, accuracy))
        run_ids.append(run_id)
    write_embeddings(db, run_ids[-1], truth, seed=seed) if run_ids else None
    return {"n_turns": n_turns, "n_labelled": len(labelled), "intents": intents, "run_ids": run_ids}


def write_embeddings(db, run_id: str, truth: np.ndarray, *, dim: int = 384, seed: int = 0):
    """Publish clustered float16 sentence embeddings for ``run_id`` where the worker would (its result folder)."""
    from store.jobfiles import RESULTS, default_jobs_dir

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(int(truth.max()) + 1, dim))
    vectors = (centres[truth] + 0.8 * rng.normal(size=(len(truth), dim))).astype(np.float16)
    out = default_jobs_dir(db.path) / RESULTS / run_id
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "embeddings.npz", ids=np.array([f"t{i:06d}" for i in range(len(truth))]), vectors=vectors)
    return out
