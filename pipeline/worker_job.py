"""One training job, start to finish: read the snapshot, train, evaluate, score the pool, rank, write results.

Kept apart from the worker loop (``pipeline.worker``) so the job is a plain function of a job folder
and an output folder: ``run_job(job_dir, out_dir, ...)``. It never touches the database. What it
writes is exactly what ``store.runs.ingest_one`` reads:

    predictions.parquet  one row per pool turn (the model's suggestion + an uncertainty score + whether
                         the run's encoder -- or the multilingual route's -- could read it: ``encoder_reads``)
    ranking.parquet      the unlabelled turns in the order annotators should see them
    embeddings.npz       ``ids`` (n_pool,) and ``vectors`` float16 (n_pool, dim) sentence embeddings
    metrics.json         held-out metrics and ``holdout_ids``, sizes, strategy, encoder (``routed_ids``), snapshot, reason
    model/               the trained model (``ConcordModel.save``), absent on a cold start
    result.json          status, timings, the model's encoder identity

Held-out turns' prediction rows are out of sample: a fast run refits its extractor on every label
after evaluating, so their rows come from the model as it was before the refit (the one the
held-out metrics describe); a full run deploys a model that never saw them. Analyst views restrict
model-vs-label comparisons to ``holdout_ids`` (``store.analysis``).
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from store import jobfiles as jf

HOLDOUT_FRACTION = 0.2
EMBEDDINGS_FILE = "embeddings.npz"
MIN_LABELS_FOR_HOLDOUT = 25      # fewer labels: train on all of them, no held-out metrics yet
# numpy/scipy BLAS threads while a job fits and scores (torch keeps CONCORD_THREADS). The heads, the
# alignment and fusion classifiers are small L-BFGS problems: on a shared 2-core machine two OpenBLAS
# threads spin-wait on every small product and measured 5-20x slower than one (a 40-intent response
# classifier: 0.9-2.4 s with two threads, 0.1 s with one).
BLAS_THREADS = 1
Checkpoint = Callable[[str, float | None], None]


# -- reading the job -------------------------------------------------------------------------------------
def read_records(path: Path) -> list[dict]:
    """Parquet rows back into native turn records (``meta`` is stored as JSON text)."""
    records = pq.read_table(path).to_pylist()
    for r in records:
        r["meta"] = json.loads(r.get("meta") or "{}")
        r["context"] = r.get("context") or []
        if "entities" in r:
            r["entities"] = r.get("entities") or []
            r["intents"] = r.get("intents") or []
    return records


def holdout_split(records: list[dict], *, fraction: float = HOLDOUT_FRACTION, seed: int = 0,
                  min_labels: int = MIN_LABELS_FOR_HOLDOUT) -> tuple[list[dict], list[dict]]:
    """(train, held_out): a turn is held out by a hash of its id, so the slice is stable across runs
    (metrics of successive runs compare like with like) and grows as labels are added."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction: expected a value in (0, 1), got {fraction!r}")
    if len(records) < min_labels:
        return list(records), []
    cut = int(fraction * 10_000)
    held = [int(hashlib.sha1(f"{seed}:{r['id']}".encode()).hexdigest()[:8], 16) % 10_000 < cut for r in records]
    train = [r for r, h in zip(records, held) if not h]
    holdout = [r for r, h in zip(records, held) if h]
    return (train, holdout) if train and holdout else (list(records), [])


def trainable(records: list[dict]) -> bool:
    """Enough labels for a model: two intents, two sentiments, or any entity span."""
    intents = {i for r in records for i in r.get("intents") or []}
    sentiments = {r.get("sentiment") for r in records if r.get("sentiment")}
    return len(intents) >= 2 or len(sentiments) >= 2 or any(r.get("entities") for r in records)


# -- running it ------------------------------------------------------------------------------------------------
class Timer:
    """Collects ``<stage>_s`` wall times (and the process's CPU seconds, all threads) as stages run.

    CPU time is recorded because on a shared machine wall time mostly measures the neighbours."""

    def __init__(self):
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._started, self._cpu_started = time.perf_counter(), time.process_time()

    def stage(self, name: str):
        timer = self

        class _Stage:
            def __enter__(self):
                self.t0, self.c0 = time.perf_counter(), time.process_time()

            def __exit__(self, *exc):
                timer.timings[f"{name}_s"] = round(time.perf_counter() - self.t0, 3)
                timer.cpu[f"{name}_s"] = round(time.process_time() - self.c0, 3)
        return _Stage()

    def total(self) -> dict[str, float]:
        return {**self.timings, "total_s": round(time.perf_counter() - self._started, 3),
                "cpu_total_s": round(time.process_time() - self._cpu_started, 3)}


def run_job(job_dir: Path, out_dir: Path, *, checkpoint: Checkpoint | None = None) -> dict:
    """Train on the job's snapshot and write the results into ``out_dir``; returns the result record.

    ``checkpoint(stage, progress)`` is called between stages (heartbeat progress, stop requests,
    fault-injection pauses).
    """
    from threadpoolctl import threadpool_limits

    check = checkpoint or (lambda stage, progress: None)
    timer = Timer()
    spec = jf.read_json(Path(job_dir) / jf.SPEC)
    if not spec:
        raise ValueError(f"{job_dir}: expected a {jf.SPEC}, found none or an unreadable one")
    with timer.stage("load"):
        labels = read_records(Path(job_dir) / jf.LABELS_FILE)
        pool = read_records(Path(job_dir) / jf.POOL_FILE)
    check("loaded", 0.02)
    from pipeline.encoder_choice import choose_encoder
    from pipeline.encoders import configure_threads, load_encoder

    configure_threads()
    with timer.stage("encoder"):
        choice = choose_encoder(spec.get("encoder"), [r["text"] for r in pool], seed=int(spec.get("seed") or 0))
        encoder = load_encoder(choice.name)
    train, holdout = holdout_split(labels, seed=int(spec.get("seed") or 0))
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):   # torch's own threads are left as set
        model, metrics, scored, ranking = _model_scores_ranking(spec, choice, train, holdout, labels, pool, encoder,
                                                                timer, check)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with timer.stage("write"):
        _write_results(out, model, scored, ranking, scored.readable, check)
    metrics = {**metrics, **_run_facts(spec, labels, train, holdout, pool, ranking, model, encoder),
               **_encoder_facts(choice, scored)}
    jf.write_json_atomic(out / jf.METRICS_FILE, metrics)
    jf.write_json_atomic(out / jf.SPEC, spec)
    result = {"run_id": spec["run_id"], "status": "done", "timings": timer.total(), "cpu_timings": timer.cpu,
              "finished_at": time.time(), "encoder_identity": encoder.identity, "cold_start": model is None}
    jf.write_json_atomic(out / jf.RESULT, result)
    check("results_written", 0.98)
    return result


def _model_scores_ranking(spec, choice, train, holdout, labels, pool, encoder, timer, check):
    """(deployed model or None, metrics, Scored pool, ranking table): every stage between loading and writing.
    The unreadable turns are routed before ranking, so the queue orders them by the routed model's uncertainty."""
    model, metrics, holdout_model = None, {}, None
    if trainable(train):
        model, metrics, holdout_model = _train_evaluate(spec, train, holdout, labels, encoder, timer, check)
    scored = _score(model, encoder, pool, timer, check)
    if holdout_model is not None and holdout_model is not model:
        with timer.stage("score_holdout"):
            _substitute_holdout_rows(scored, holdout_model, pool, {r["id"] for r in holdout})
    scored.readable = _readable_by_id(choice, pool, scored)
    scored.routing = _route_unreadable(spec, pool, train, holdout, labels, scored, timer, check)
    return model, metrics, scored, _rank(spec, pool, labels, scored, timer, check)


def _train_evaluate(spec, train, holdout, labels, encoder, timer, check):
    """Train on ``train`` and score the held-out slice; returns (deployed model, metrics, the model
    that never trained on the held-out slice, or None without one). What gets deployed depends on the mode.

    fast: the first model is calibrated on the held-out slice (temperatures, the alignment combiner
    and the fusion weight are fitted there, as ConcordModel does with its own slice), evaluated on
    it, then its extractor is refit on every label (as ``ConcordModel.train`` does in fast mode) so
    the suggestions learn from all labels; the alignment part is kept. full: the model carves its own
    validation split from ``train``
    for early stopping, so the held-out scores stay honest, and that model is deployed (a second
    fine-tune would double a minutes-long run).
    """
    from pipeline.model import ConcordModel

    kind, seed, options = spec.get("kind", "fast"), int(spec.get("seed") or 0), spec.get("train_options") or {}
    valid = holdout if kind == "fast" and holdout else None

    def progress(stage, fraction):
        check("training", 0.05 + 0.6 * max(0.0, min(1.0, float(fraction or 0.0))))

    check("train_start", 0.05)
    with timer.stage("train"):
        model = ConcordModel.train(train, mode=kind, encoder=encoder, valid=valid, seed=seed, progress=progress,
                                   **options)
    check("trained", 0.65)
    metrics = {"holdout_use": "calibration" if valid else "none"}
    if not holdout:
        return model, metrics, None
    with timer.stage("evaluate"):
        metrics["holdout"] = _jsonable(model.evaluate(holdout))
    check("evaluated", 0.7)
    metrics["holdout_ids"] = [r["id"] for r in holdout]
    if kind != "fast":
        return model, metrics, model
    with timer.stage("refit"):
        deployed = _refit_extractor(model, labels, seed=seed, options=options)
    check("refitted", 0.72)
    return deployed, metrics, model


def _refit_extractor(model, labels, *, seed: int, options: dict):
    """A copy of ``model`` whose extractor, alignment ridge and response classifier are refit on every
    label (pair classifier, combiner, fusion weight and the heads' held-out calibration kept), starting
    from its heads' weights (a few more labels: a few L-BFGS steps); ``model`` itself stays as it was, to
    score the held-out turns it never trained on."""
    from pipeline.model import ConcordModel

    extractor = model.extractor.refit_on(labels, seed=seed, **options)
    deployed = ConcordModel(extractor=extractor, alignment=model.alignment, fusion_weight=model.fusion_weight,
                            fusion_gated=model.fusion_gated,
                            report={**model.report, "extractor": dict(extractor.train_metrics)})
    deployed.alignment = deployed.alignment_refit_on(labels, seed=seed)
    return deployed


def _jsonable(obj):
    """numpy scalars / arrays inside a metrics dict -> plain JSON values."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


class Scored:
    """What the model says about every pool turn: suggestion rows plus the arrays active learning needs."""

    def __init__(self, *, ids, rows, embeddings, probs=None, multi_label=False, token_probs=None, sentiment_probs=None,
                 intent_classes=None):
        self.ids, self.rows, self.embeddings, self.probs = ids, rows, embeddings, probs
        self.intent_classes = list(intent_classes or [])
        self.multi_label, self.token_probs, self.sentiment_probs = multi_label, token_probs, sentiment_probs
        self.uncertainty = None
        self.readable: dict[str, bool | None] = {}   # turn id -> encoder_reads (``_readable_by_id``)
        self.routing = None                           # encoder_choice.Routing when unreadable turns were routed
        if probs is not None and len(probs):
            from pipeline.active import margin_scores

            if not multi_label:                # fused rows: renormalise away rounding before the sum check
                self.probs = probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
            self.uncertainty = margin_scores(probs, multi_label=multi_label)


def _score(model, encoder, pool: list[dict], timer: Timer, check: Checkpoint) -> Scored:
    """One pass over the pool: the suggestion rows plus the arrays the ranking needs."""
    ids = [r["id"] for r in pool]
    with timer.stage("score"):
        if model is None:                      # cold start: embeddings only, for a diverse first batch
            scored = Scored(ids=ids, rows=None, embeddings=encoder.embed([r["text"] for r in pool]))
        else:
            pool_scores = model.score_pool(pool)
            arrays = pool_scores.arrays
            probs = pool_scores.intent_probs   # the fused suggestion the annotator sees
            scored = Scored(ids=ids, rows=pool_scores.rows, embeddings=arrays.embeddings, probs=probs,
                            multi_label=arrays.multi_label, token_probs=arrays.token_probs,
                            sentiment_probs=arrays.sentiment_probs, intent_classes=arrays.intent_classes)
    check("scored", 0.85)
    return scored


def _substitute_holdout_rows(scored: Scored, holdout_model, pool: list[dict], holdout_ids: set) -> None:
    """Replace the held-out turns' rows (and uncertainty) by ``holdout_model``'s, scored from the same
    unlabelled pool records as every other row. Labelled turns are never ranked, so only their rows change."""
    from pipeline.active import margin_scores
    from pipeline.model import align_columns

    positions = [i for i, r in enumerate(pool) if r["id"] in holdout_ids]
    if not positions or scored.rows is None:
        return
    held = holdout_model.score_pool([pool[i] for i in positions])
    for i, row in zip(positions, held.rows):
        scored.rows[i] = row
    if scored.probs is None or held.intent_probs is None:
        return
    probs = align_columns(held.intent_probs, held.arrays.intent_classes, scored.intent_classes)
    if not scored.multi_label:
        probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    scored.probs[positions] = probs
    scored.uncertainty[positions] = margin_scores(probs, multi_label=scored.multi_label)


def _rank(spec: dict, pool: list[dict], labels: list[dict], scored: Scored, timer: Timer,
          check: Checkpoint) -> pa.Table:
    """The unlabelled turns in queue order: a diverse uncertain batch first, then by uncertainty."""
    from pipeline.active import DEFAULT_STRATEGY, rank_pool

    labelled = {r["id"] for r in labels}
    rows = np.array([i for i, r in enumerate(pool) if r["id"] not in labelled], dtype=np.int64)
    seen = np.array([i for i, r in enumerate(pool) if r["id"] in labelled], dtype=np.int64)
    with timer.stage("rank"):
        if len(rows) == 0:
            order = np.zeros(0, dtype=np.int64)
        else:
            def take(a):
                return None if a is None else a[rows]
            order = rank_pool(spec.get("strategy") or DEFAULT_STRATEGY,
                              batch_size=max(1, min(int(spec.get("batch_size") or 20), len(rows))),
                              probs=take(scored.probs), embeddings=scored.embeddings[rows],
                              token_probs=None if scored.token_probs is None else [scored.token_probs[i] for i in rows],
                              sentiment_probs=take(scored.sentiment_probs), multi_label=scored.multi_label,
                              labeled_embeddings=scored.embeddings[seen] if len(seen) else None,  # local_margin
                              labeled_cardinality=_mean_label_count(labels) if scored.multi_label else None,
                              seed=int(spec.get("seed") or 0))
    ranked = rows[order]
    score = None if scored.uncertainty is None else scored.uncertainty[ranked].astype(np.float64)
    check("ranked", 0.9)
    return pa.table({"turn_id": pa.array([pool[i]["id"] for i in ranked], pa.string()),
                     "rank": pa.array(np.arange(len(ranked), dtype=np.int32)),
                     "score": pa.array(score if score is not None else [None] * len(ranked), pa.float64())})


def _mean_label_count(labels: list[dict]) -> float | None:
    """Mean intents per labelled turn (cardinality_margin compares each prediction's set size with it)."""
    counts = [len(r["intents"]) for r in labels if r.get("intents")]
    return float(np.mean(counts)) if counts else None


def _readable_by_id(choice, pool: list[dict], scored: Scored) -> dict[str, bool | None]:
    """turn id -> could the run's encoder read it (``pipeline.encoder_choice.encoder_reads``); empty when
    nothing was scored or the encoder is not the packaged MiniLM (then every row's ``encoder_reads`` is null:
    no claim about an encoder whose vocabulary this check does not know). Only tokenizes: the tokenizer is
    cached per process, so this costs about a second per 10k turns, never a model load."""
    from pipeline.encoder_choice import encoder_reads

    if not scored.rows:
        return {}
    reads = encoder_reads(choice, [r["text"] for r in pool])
    return {} if reads is None else dict(zip((r["id"] for r in pool), reads))


def _route_unreadable(spec, pool, train, holdout, labels, scored: Scored, timer: Timer, check: Checkpoint):
    """The unreadable turns' suggestions from a multilingual extractor (``encoder_choice.route_unreadable``), so
    they are read (``encoder_reads`` True); None -- no stage, no load -- below ROUTE_MIN_TURNS unreadable turns."""
    from pipeline.encoder_choice import routable_positions, route_unreadable

    positions = routable_positions(pool, scored.readable) if scored.rows else []
    if not positions:
        return None
    check("routing", 0.86)
    fast = spec.get("kind", "fast") == "fast"      # a full run's options (epochs, ...) are not the heads'
    with timer.stage("route"):
        routing = route_unreadable(scored, pool, positions, train=train, holdout=holdout, labels=labels, refit=fast,
                                   seed=int(spec.get("seed") or 0),
                                   options=(spec.get("train_options") or {}) if fast else {})
    scored.readable.update({turn_id: True for turn_id in routing.turn_ids})
    return routing


def _prediction_table(scored: Scored, readable: dict[str, bool | None]) -> pa.Table:
    rows = scored.rows or []
    unc = scored.uncertainty

    def f(x):
        return None if x is None else float(x)
    columns = {
        "turn_id": [r["id"] for r in rows],
        "intents": [list(r.get("intents") or []) for r in rows],
        "intent_probs": [json.dumps(r.get("intent_probs") or {}, ensure_ascii=False) for r in rows],
        "entities": [[{"start": int(e["start"]), "end": int(e["end"]), "label": e["label"]}
                      for e in r.get("entities") or []]
                     for r in rows],
        "entity_scores": [[f(e.get("score")) for e in r.get("entities") or []] for r in rows],
        "sentiment": [r.get("sentiment") for r in rows],
        "sentiment_probs": [json.dumps(r.get("sentiment_probs") or {}, ensure_ascii=False) for r in rows],
        "alignment_score": [f(r.get("alignment_score")) for r in rows],
        "misalignment_prob": [f(r.get("misalignment_prob")) for r in rows],
        "uncertainty": [None if unc is None else float(unc[i]) for i in range(len(rows))],
        "encoder_reads": [readable.get(r["id"]) for r in rows],
    }
    return pa.table(columns, schema=jf.PREDICTIONS_WRITE_SCHEMA)


def _write_results(out: Path, model, scored: Scored, ranking: pa.Table, readable: dict[str, bool | None],
                   check: Checkpoint) -> None:
    pq.write_table(_prediction_table(scored, readable), out / jf.PREDICTIONS_FILE)
    check("writing", 0.93)                 # half-written results: a kill here must leave nothing visible
    pq.write_table(ranking, out / jf.RANKING_FILE)
    np.savez(out / EMBEDDINGS_FILE, ids=np.array(scored.ids), vectors=np.asarray(scored.embeddings, dtype=np.float16))
    if model is not None:
        model.save(out / jf.MODEL_DIR)


def _encoder_facts(choice, scored: Scored) -> dict:
    """The encoder choice (its reason saying what routing did) and the routed turns, for metrics.json."""
    routing = scored.routing
    return {"encoder_choice": (choice.with_routing(routing) if routing else choice).as_dict(),
            "routed_ids": list(routing.turn_ids) if routing else []}


def _run_facts(spec, labels, train, holdout, pool, ranking, model, encoder) -> dict:
    from pipeline.active import DEFAULT_STRATEGY

    return {"kind": spec.get("kind"), "reason": spec.get("reason"), "seed": spec.get("seed"),
            "snapshot_hash": spec.get("snapshot_hash"), "n_labels": len(labels), "n_train": len(train),
            "n_holdout": len(holdout), "n_pool": len(pool), "n_ranked": ranking.num_rows,
            "strategy": spec.get("strategy") or DEFAULT_STRATEGY, "encoder": encoder.identity,
            "cold_start": model is None}
