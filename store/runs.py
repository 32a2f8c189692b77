"""Model runs, seen from the process that owns the store: write jobs, ingest results, read history.

The worker never opens the database (``store.jobfiles`` describes the folder the two share). The
owner writes a job -- the labels as they are now, the pool to score, and a spec with the snapshot
hash -- and later ingests what the worker published: the run record, its predictions and the new
queue order in ONE transaction keyed by run id, so ingesting the same results twice (a crash between
commit and clean-up, two owners polling) changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from store import jobfiles as jf
from store.jobfiles import LABELS_SCHEMA, POOL_SCHEMA, RANKING_SCHEMA
from store.db import register_table
from store.queue import set_ranking, utcnow

FINAL = ("done", "failed", "superseded")
KEEP_PREDICTION_RUNS = 5          # finished runs per project whose predictions stay in the database
KEEP_RESULT_DIRS = {"fast": 10, "full": 3}   # ingested result folders (with model artifacts) kept on disk



# -- the labels snapshot --------------------------------------------------------------------------------
def _clean(value):
    """pandas gives NaN / NaT / numpy scalars; Parquet and JSON want None and plain Python values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    return value


def label_records(db, project: str) -> list[dict]:
    """The effective labels of every labelled turn, as native records (what the worker trains on)."""
    from store.effective import effective_labels

    frame = effective_labels(db, project)
    records = []
    for row in frame.to_dict("records"):
        records.append({
            "id": row["turn_id"], "conversation_id": row["conversation_id"],
            "turn_index": _clean(row["turn_index"]), "context": list(row["context"] or []), "text": row["text"],
            "response": _clean(row["response"]), "meta": json.dumps(row["meta"] or {}, ensure_ascii=False),
            "intents": list(row["intents"] or []),
            "entities": [{"start": int(s["start"]), "end": int(s["end"]), "label": s["label"]}
                         for s in row["entities"] or []],
            "sentiment": _clean(row["sentiment"]), "aligned": _clean(row["aligned"]),
            "corrected_response": _clean(row["corrected_response"]), "label_source": row["label_source"]})
    return records


def snapshot_hash(records: list[dict]) -> str:
    """A content hash of the labels a job trains on: equal labels, equal hash (order-independent)."""
    digest = hashlib.sha256()
    for r in sorted(records, key=lambda r: r["id"]):
        key = [r["id"], sorted(r["intents"]), sorted((s["start"], s["end"], s["label"]) for s in r["entities"]),
               r["sentiment"], r["aligned"], r["corrected_response"]]
        digest.update(json.dumps(key, ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


def _pool_table(db, project: str) -> pa.Table:
    frame = db.query_df("SELECT turn_id AS id, conversation_id, turn_index, context, text, response, meta "
                        "FROM turns WHERE project = ? ORDER BY seq", [project])
    return pa.Table.from_pandas(frame, schema=POOL_SCHEMA, preserve_index=False)


# -- writing a job -----------------------------------------------------------------------------------------
def write_job(db, jobs_dir, *, project: str = "default", kind: str = "fast", reason: str = "",
              encoder: str | None = None, seed: int = 0, batch_size: int = 20,
              train_options: dict | None = None) -> str:
    """Snapshot the labels and the pool into ``jobs/pending/<run_id>/`` and record the run as queued.

    Older pending jobs of the same kind and project are superseded (only the newest one runs).
    ``batch_size`` is the number of labels expected before the next retrain: the head of the new
    queue order is a diverse batch of that size. ``train_options`` go to ``ConcordModel.train``
    (e.g. ``{"time_budget_s": 600}`` for a full run). Returns the run id.
    """
    if kind not in jf.KINDS:
        raise ValueError(f"kind: expected one of {list(jf.KINDS)}, got {kind!r}")
    from store.labels import get_schema

    root = jf.ensure_layout(jobs_dir)
    run_id = jf.new_run_id(kind)
    records = label_records(db, project)
    tmp = root / jf.PENDING / f"{run_id}.tmp"
    tmp.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(records, schema=LABELS_SCHEMA), tmp / jf.LABELS_FILE)
    pool = _pool_table(db, project)
    pq.write_table(pool, tmp / jf.POOL_FILE)
    spec = {"run_id": run_id, "project": project, "kind": kind, "reason": reason, "encoder": encoder,
            "seed": seed, "batch_size": batch_size, "train_options": dict(train_options or {}),
            "snapshot_hash": snapshot_hash(records),
            "n_labels": len(records), "n_pool": pool.num_rows, "label_schema": get_schema(db, project),
            "created_at": utcnow().isoformat()}
    jf.write_json_atomic(tmp / jf.SPEC, spec)
    jf.publish_job(tmp, root)
    db.write(_record_queued, spec)
    superseded = jf.supersede_older(root, kind, project, keep=run_id)
    sync_job_states(db, root, only=superseded)
    return run_id


def _record_queued(con, spec: dict) -> None:
    con.execute("INSERT OR IGNORE INTO model_runs (run_id, project, kind, status, snapshot_hash, n_labels, metrics,"
                " created_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                [spec["run_id"], spec["project"], spec["kind"], spec["snapshot_hash"], spec["n_labels"],
                 json.dumps({"reason": spec["reason"]}), utcnow()])


def sync_job_states(db, jobs_dir, *, only: list[str] | None = None) -> dict[str, str]:
    """Mirror where unfinished runs' folders are (pending / running / superseded) into ``model_runs.status``."""
    root = Path(jobs_dir)
    placed = {run_id: state for state, name in (("queued", jf.PENDING), ("running", jf.RUNNING),
                                                  ("superseded", jf.SUPERSEDED))
              for run_id in jf.list_runs(root, name)}
    if only is not None:
        placed = {k: v for k, v in placed.items() if k in only}
    open_runs = dict(db.query("SELECT run_id, status FROM model_runs WHERE status IN ('queued', 'running')"))
    changes = {run_id: state for run_id, state in placed.items() if run_id in open_runs and open_runs[run_id] != state}
    if changes:
        db.write(_set_statuses, changes)
    for run_id, state in placed.items():   # recorded now: the set-aside copy is no longer needed
        if state == "superseded":
            shutil.rmtree(root / jf.SUPERSEDED / run_id, ignore_errors=True)
    return changes


def _set_statuses(con, changes: dict[str, str]) -> None:
    for run_id, state in changes.items():
        finished = utcnow() if state == "superseded" else None
        con.execute("UPDATE model_runs SET status = ?, finished_at = coalesce(?, finished_at) WHERE run_id = ? "
                    "AND status IN ('queued', 'running')", [state, finished, run_id])


# -- ingesting results ---------------------------------------------------------------------------------------
def ingest_results(db, jobs_dir) -> list[str]:
    """Ingest every published result not yet recorded; returns the run ids ingested by this call.

    Each run goes in with one transaction (run record + predictions + queue order), keyed by run id:
    a run already recorded as done or failed is skipped, so calling this again is a no-op.
    """
    root = jf.ensure_layout(jobs_dir)
    finished = {r[0] for r in db.query("SELECT run_id FROM model_runs WHERE status IN ('done', 'failed')")}
    ingested = []
    for run_id in jf.list_runs(root, jf.RESULTS):
        if run_id in finished:
            continue
        if ingest_one(db, root / jf.RESULTS / run_id):
            ingested.append(run_id)
    if ingested:
        prune_result_dirs(db, root)
    return ingested


def ingest_one(db, result_dir: Path) -> bool:
    """One published result folder into the store; False if that run was already ingested."""
    spec = jf.read_json(result_dir / jf.SPEC, {})
    result = jf.read_json(result_dir / jf.RESULT, {})
    run_id = result_dir.name
    if result.get("status") != "done":
        return db.write(_record_failure, run_id, spec, result)
    predictions = jf.read_predictions(result_dir / jf.PREDICTIONS_FILE)   # an older worker's too (no encoder_reads)
    ranking = pq.read_table(result_dir / jf.RANKING_FILE).cast(RANKING_SCHEMA)
    metrics = jf.read_json(result_dir / jf.METRICS_FILE, {})
    artifact = result_dir / jf.MODEL_DIR
    return db.write(_record_done, run_id, spec, result, metrics, predictions, ranking,
                    str(artifact) if artifact.is_dir() else None)


def _already_final(con, run_id: str) -> bool:
    row = con.execute("SELECT status FROM model_runs WHERE run_id = ?", [run_id]).fetchone()
    return row is not None and row[0] in ("done", "failed")


def _upsert_run(con, run_id: str, spec: dict, **fields) -> None:
    con.execute("INSERT OR IGNORE INTO model_runs (run_id, project, kind, status, snapshot_hash, n_labels, created_at)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?)",
                [run_id, spec.get("project", "default"), spec.get("kind") or jf.run_kind(run_id) or "fast",
                 spec.get("snapshot_hash"), spec.get("n_labels"), utcnow()])
    assignments = ", ".join(f"{name} = ?" for name in fields)
    con.execute(f"UPDATE model_runs SET {assignments} WHERE run_id = ?", [*fields.values(), run_id])


def _record_failure(con, run_id: str, spec: dict, result: dict) -> bool:
    if _already_final(con, run_id):
        return False
    _upsert_run(con, run_id, spec, status="failed", error=str(result.get("error") or "the worker gave no reason"),
                timings=json.dumps(result.get("timings") or {}), finished_at=utcnow())
    return True


def _next_version(con, project: str) -> str:
    done = con.execute("SELECT count(*) FROM model_runs WHERE project = ? AND status = 'done'", [project]).fetchone()[0]
    return f"v{done + 1}"


def _record_done(con, run_id, spec, result, metrics, predictions: pa.Table, ranking: pa.Table, artifact) -> bool:
    if _already_final(con, run_id):
        return False
    project = spec.get("project", "default")
    version = f"{_next_version(con, project)}-{spec.get('kind', 'fast')}"
    _upsert_run(con, run_id, spec, status="done", model_version=version, metrics=json.dumps(metrics),
                timings=json.dumps(result.get("timings") or {}), artifact_dir=artifact, error=None,
                finished_at=utcnow())
    con.execute("DELETE FROM predictions WHERE run_id = ?", [run_id])
    if predictions.num_rows:
        table = predictions.add_column(0, "run_id", pa.array([run_id] * predictions.num_rows, pa.string()))
        register_table(con, "incoming_predictions", table)
        con.execute("INSERT INTO predictions BY NAME SELECT * FROM incoming_predictions")   # columns by name
        con.unregister("incoming_predictions")
    if _is_newest_ranking(con, project, run_id):
        set_ranking(con, project, run_id, ranking.column("turn_id").to_pylist(), ranking.column("score").to_pylist())
    _prune_predictions(con, project)
    return True


def _is_newest_ranking(con, project: str, run_id: str) -> bool:
    """A run orders the queue unless the current order came from a run created after it (older snapshot)."""
    row = con.execute("SELECT max(run_id) FROM queue_rank WHERE project = ?", [project]).fetchone()
    current = row[0] if row else None
    return current is None or _created_key(run_id) >= _created_key(current)


def _created_key(run_id: str) -> str:
    return run_id.split("-", 1)[0]      # run ids start with their UTC creation stamp


def _prune_predictions(con, project: str) -> None:
    """Keep the predictions of the newest finished runs (and of the run ordering the queue); drop the rest."""
    con.execute("""
        DELETE FROM predictions WHERE run_id IN (
            SELECT run_id FROM model_runs WHERE project = $p AND status = 'done'
            ORDER BY finished_at DESC, run_id DESC OFFSET $keep)
          AND run_id NOT IN (SELECT DISTINCT run_id FROM queue_rank WHERE project = $p)""",
                {"p": project, "keep": KEEP_PREDICTION_RUNS})


def prune_result_dirs(db, jobs_dir) -> list[str]:
    """Delete ingested result folders beyond the newest ``KEEP_RESULT_DIRS[kind]`` (artifacts included)."""
    final = {r[0]: r[1] for r in db.query("SELECT run_id, status FROM model_runs WHERE status IN ('done', 'failed')")}
    removed = []
    for kind, keep in KEEP_RESULT_DIRS.items():
        ingested = [r for r in jf.list_runs(jobs_dir, jf.RESULTS) if r in final and jf.run_kind(r) == kind]
        for run_id in ingested[:-keep] if len(ingested) > keep else []:
            shutil.rmtree(Path(jobs_dir) / jf.RESULTS / run_id, ignore_errors=True)
            removed.append(run_id)
    if removed:
        db.write(lambda con: con.execute("UPDATE model_runs SET artifact_dir = NULL WHERE list_contains(?, run_id)",
                                         [removed]))
    return removed


# -- reads for the owner loop and the UI -------------------------------------------------------------------
def _decoded(row: dict) -> dict:
    for key in ("metrics", "timings"):
        row[key] = json.loads(row[key]) if row.get(key) else {}
    return row


def run_history(db, project: str = "default", *, limit: int = 50) -> list[dict]:
    """Newest first: run id, kind, status, model version, snapshot hash, labels, metrics, timings, error."""
    rows = db.query_dicts("SELECT * FROM model_runs WHERE project = ? ORDER BY created_at DESC, run_id DESC LIMIT ?",
                          [project, limit])
    return [_decoded(r) for r in rows]


def latest_run(db, project: str = "default", *, kind: str | None = None, statuses=None) -> dict | None:
    """The newest run (of ``kind``, with a status in ``statuses``) or None."""
    sql, params = "SELECT * FROM model_runs WHERE project = ?", [project]
    if kind is not None:
        sql, params = sql + " AND kind = ?", params + [kind]
    if statuses:
        sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
        params += list(statuses)
    rows = db.query_dicts(sql + " ORDER BY created_at DESC, run_id DESC LIMIT 1", params)
    return _decoded(rows[0]) if rows else None


def label_activity_since(db, project: str, since) -> int:
    """Labels submitted or adjudicated (and undos) after ``since``: what the retrain triggers count."""
    sql = "SELECT count(*) FROM annotations WHERE project = ? AND action IN ('submit', 'adjudicate', 'undo')"
    if since is None:
        return db.query_one(sql, [project])[0]
    return db.query_one(sql + " AND created_at > ?", [project, since])[0]


def worker_state(db, jobs_dir, project: str = "default", *, stale_after_s: float = jf.STALE_AFTER_S) -> dict:
    """What the pipeline page shows: ``state`` is training / queued / failed / idle / offline.

    ``workers``: live workers' state files; ``running``: jobs in progress with stage, progress and
    ``attempt`` (2 and up: a worker died running it and a new one took it over); ``pending``: waiting run
    ids; ``last``: the newest finished run (its error when it failed).
    """
    root = Path(jobs_dir)
    workers = jf.live_workers(root, stale_after_s=stale_after_s) if root.is_dir() else []
    running = []
    for run_id in jf.list_runs(root, jf.RUNNING):
        beat = jf.job_beat(root / jf.RUNNING / run_id) or {}
        claim = jf.read_json(root / jf.RUNNING / run_id / jf.CLAIM) or {}
        running.append({"run_id": run_id, "kind": jf.run_kind(run_id), "stage": beat.get("stage"),
                        "progress": beat.get("progress"), "worker": beat.get("worker"), "at": beat.get("at"),
                        "attempt": claim.get("attempt")})
    pending = jf.list_runs(root, jf.PENDING)
    last = latest_run(db, project, statuses=("done", "failed"))
    if running:
        state = "training"
    elif not workers:
        state = "offline"
    elif pending:
        state = "queued"
    elif last is not None and last["status"] == "failed":
        state = "failed"
    else:
        state = "idle"
    return {"state": state, "workers": workers, "running": running, "pending": pending, "last": last}
