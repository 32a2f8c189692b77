"""The job folder shared by the owner of the store and the background worker: files only, no database.

Why files: DuckDB lets one process hold the database, and the worker must never block (or be blocked
by) the app that owns it. So the two exchange directories and hand them over by atomic ``rename``
(POSIX rename of a directory within one file system either happens completely or not at all, and two
processes renaming the same source cannot both succeed):

    pending/<run_id>.tmp/   the owner writes a job here (spec.json, labels.parquet, pool.parquet) ...
    pending/<run_id>/       ... and renames it when complete; a worker claims it by renaming it to
    running/<run_id>/       where it writes claim.json, attempts, and heartbeat.json every few seconds
    results/<run_id>.<worker>.tmp/  the worker writes its results here and renames them to
    results/<run_id>/       which the owner ingests (in one transaction keyed by run id)
    superseded/<run_id>/    older pending jobs of a kind, set aside when a newer one exists
    workers/<worker>.json   each live worker's state (idle / training + progress), rewritten every beat

A running job whose heartbeat lapses (its worker died) is moved back to ``pending/`` by anyone
(``requeue_stale``); a job that keeps killing its worker is failed after ``MAX_ATTEMPTS`` claims.
This module needs only the standard library and pyarrow, so both sides (and tests) share one implementation.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

KINDS = ("fast", "full")
PENDING, RUNNING, RESULTS, SUPERSEDED, WORKERS = "pending", "running", "results", "superseded", "workers"
SPEC, CLAIM, HEARTBEAT, ATTEMPTS, RESULT = "spec.json", "claim.json", "heartbeat.json", "attempts", "result.json"
LABELS_FILE, POOL_FILE = "labels.parquet", "pool.parquet"
PREDICTIONS_FILE, RANKING_FILE = "predictions.parquet", "ranking.parquet"
METRICS_FILE, MODEL_DIR = "metrics.json", "model"
STALE_AFTER_S = 30.0        # a heartbeat older than this means the worker is gone
MAX_ATTEMPTS = 3            # claims of one job before it is failed instead of retried
ENV_JOBS = "CONCORD_JOBS"

# The Parquet files' columns (they mirror the turns / predictions / queue_rank tables of store.migrations).
_CONTEXT_T = pa.list_(pa.struct([("speaker", pa.string()), ("text", pa.string())]))
_SPANS_T = pa.list_(pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string())]))
POOL_SCHEMA = pa.schema([("id", pa.string()), ("conversation_id", pa.string()), ("turn_index", pa.int32()),
                         ("context", _CONTEXT_T), ("text", pa.string()), ("response", pa.string()),
                         ("meta", pa.string())])
LABELS_SCHEMA = pa.schema(list(POOL_SCHEMA) + [
    ("intents", pa.list_(pa.string())), ("entities", _SPANS_T), ("sentiment", pa.string()),
    ("aligned", pa.bool_()), ("corrected_response", pa.string()), ("label_source", pa.string())])
PREDICTIONS_SCHEMA = pa.schema([
    ("turn_id", pa.string()), ("intents", pa.list_(pa.string())), ("intent_probs", pa.string()),
    ("entities", _SPANS_T), ("entity_scores", pa.list_(pa.float64())), ("sentiment", pa.string()),
    ("sentiment_probs", pa.string()), ("alignment_score", pa.float64()), ("misalignment_prob", pa.float64()),
    ("uncertainty", pa.float64())])
# Columns added to predictions.parquet since: results published by an older worker lack them, and
# ``read_predictions`` fills them with nulls. encoder_reads: could the run's encoder read the turn (False:
# mostly [UNK] to the packaged MiniLM; null: not checked -- another encoder, or an older worker).
ENCODER_READS_FIELD = pa.field("encoder_reads", pa.bool_())
PREDICTIONS_ADDED = [ENCODER_READS_FIELD]
PREDICTIONS_WRITE_SCHEMA = pa.schema(list(PREDICTIONS_SCHEMA) + PREDICTIONS_ADDED)   # what the worker writes now
RANKING_SCHEMA = pa.schema([("turn_id", pa.string()), ("rank", pa.int32()), ("score", pa.float64())])


def read_predictions(path) -> pa.Table:
    """A published predictions.parquet in ``PREDICTIONS_WRITE_SCHEMA``: columns added since an older worker
    wrote it are null, so its results still ingest."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for field in PREDICTIONS_ADDED:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table.select(PREDICTIONS_WRITE_SCHEMA.names).cast(PREDICTIONS_WRITE_SCHEMA)


# -- names and paths --------------------------------------------------------------------------------
def new_run_id(kind: str) -> str:
    """Sortable by creation time (UTC, microseconds), unique, and says its kind:
    ``20240501T101500123456-fast-1a2b3c``."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {list(KINDS)}, got {kind!r}")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}-{kind}-{uuid.uuid4().hex[:6]}"


def run_kind(run_id: str) -> str | None:
    parts = run_id.split("-")
    return parts[1] if len(parts) >= 3 and parts[1] in KINDS else None


def default_jobs_dir(db_path: str | os.PathLike) -> Path:
    """``$CONCORD_JOBS``, else a folder beside the database: ``concord.duckdb`` -> ``concord.jobs/``."""
    if os.environ.get(ENV_JOBS):
        return Path(os.environ[ENV_JOBS])
    path = Path(db_path)
    return path.with_name(path.stem + ".jobs")


def ensure_layout(jobs_dir) -> Path:
    root = Path(jobs_dir)
    for name in (PENDING, RUNNING, RESULTS, SUPERSEDED, WORKERS):
        (root / name).mkdir(parents=True, exist_ok=True)
    return root


def _safe_host() -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in socket.gethostname())


def worker_id() -> str:
    """``<host>-<pid>``: names this worker's state file and its half-written result copies."""
    return f"{_safe_host()}-{os.getpid()}"


def _is_run_dir(path: Path) -> bool:
    return path.is_dir() and "." not in path.name


def list_runs(jobs_dir, state: str) -> list[str]:
    """Run ids in ``state`` (pending / running / results / superseded), oldest first; ``.tmp`` dirs excluded."""
    folder = Path(jobs_dir) / state
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if _is_run_dir(p))


# -- small atomic file helpers ------------------------------------------------------------------------
def write_json_atomic(path, obj) -> None:
    """Write then rename, so a reader never sees half a file (even if this process is killed mid-write)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path, default=None):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return default


def move(src: Path, dst: Path) -> bool:
    """Atomically rename a directory; False when someone else moved ``src`` first or ``dst`` exists."""
    try:
        os.rename(src, dst)
        return True
    except (FileNotFoundError, FileExistsError, OSError) as exc:
        if isinstance(exc, (FileNotFoundError, FileExistsError)) or exc.errno in (39, 66):  # ENOTEMPTY
            return False
        raise


# -- the owner's side ----------------------------------------------------------------------------------
def publish_job(tmp_dir: Path, jobs_dir) -> Path:
    """Rename a completely written ``pending/<id>.tmp`` to ``pending/<id>``: from now on workers see it."""
    final = Path(jobs_dir) / PENDING / tmp_dir.name.removesuffix(".tmp")
    if not move(tmp_dir, final):
        raise RuntimeError(f"cannot publish job {tmp_dir}: {final} already exists")
    return final


def supersede_older(jobs_dir, kind: str, project: str, *, keep: str) -> list[str]:
    """Set aside every pending job of ``kind``/``project`` except ``keep`` (the newest). Returns their ids."""
    moved = []
    for run_id in list_runs(jobs_dir, PENDING):
        if run_id == keep or run_kind(run_id) != kind:
            continue
        spec = read_json(Path(jobs_dir) / PENDING / run_id / SPEC, {})
        if spec.get("project") != project or run_id > keep:
            continue
        if move(Path(jobs_dir) / PENDING / run_id, Path(jobs_dir) / SUPERSEDED / run_id):
            moved.append(run_id)
    return moved


# -- the worker's side ---------------------------------------------------------------------------------
def claim_next(jobs_dir, *, worker: str | None = None, kinds: tuple[str, ...] = KINDS) -> Path | None:
    """Claim the newest pending job, fast before full; older pending jobs of that kind and project are superseded.

    Returns the ``running/<id>`` directory now owned by this worker, or None when nothing is pending.
    """
    root = ensure_layout(jobs_dir)
    worker = worker or worker_id()
    pending = list_runs(root, PENDING)
    for kind in kinds:
        for run_id in reversed([r for r in pending if run_kind(r) == kind]):
            spec = read_json(root / PENDING / run_id / SPEC, {})
            supersede_older(root, kind, spec.get("project"), keep=run_id)
            target = root / RUNNING / run_id
            if move(root / PENDING / run_id, target):
                attempts = int(read_text(target / ATTEMPTS) or 0) + 1
                (target / ATTEMPTS).write_text(str(attempts))
                write_json_atomic(target / CLAIM, {"worker": worker, "claimed_at": time.time(), "attempt": attempts})
                beat(target, worker, stage="claimed", progress=0.0)
                return target
    return None


def read_text(path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def still_mine(running_dir: Path, worker: str) -> bool:
    return (read_json(running_dir / CLAIM) or {}).get("worker") == worker


def beat(running_dir: Path, worker: str, *, stage: str, progress: float | None) -> bool:
    """Refresh the job's heartbeat (only while this worker still holds the claim)."""
    if not still_mine(running_dir, worker):
        return False
    try:
        write_json_atomic(running_dir / HEARTBEAT, {"worker": worker, "pid": os.getpid(), "host": socket.gethostname(),
                                                    "at": time.time(), "stage": stage, "progress": progress})
    except FileNotFoundError:   # requeued or finished under us
        return False
    return True


def publish_results(tmp_dir: Path, jobs_dir, run_id: str) -> bool:
    """Rename ``results/<id>.<worker>.tmp`` to ``results/<id>``; False (and the copy discarded) if already there."""
    final = Path(jobs_dir) / RESULTS / run_id
    if move(tmp_dir, final):
        return True
    shutil.rmtree(tmp_dir, ignore_errors=True)
    return False


def results_tmp_dir(jobs_dir, run_id: str, worker: str) -> Path:
    return Path(jobs_dir) / RESULTS / f"{run_id}.{worker}.tmp"


def release(running_dir: Path) -> None:
    """Remove a finished job's running directory (its results are already published)."""
    shutil.rmtree(running_dir, ignore_errors=True)


def give_back(running_dir: Path, jobs_dir) -> bool:
    """Return a claimed job to pending unfinished (a worker asked to stop); the attempt is not counted."""
    attempts = int(read_text(running_dir / ATTEMPTS) or 1)
    (running_dir / ATTEMPTS).write_text(str(max(0, attempts - 1)))
    for name in (CLAIM, HEARTBEAT):
        (running_dir / name).unlink(missing_ok=True)
    return move(running_dir, Path(jobs_dir) / PENDING / running_dir.name)


def write_failure(jobs_dir, run_id: str, *, worker: str, error: str, spec: dict | None = None,
                  timings: dict | None = None) -> bool:
    """Publish a failed result (no predictions) so the owner records the error and the UI shows it."""
    tmp = results_tmp_dir(jobs_dir, run_id, worker)
    tmp.mkdir(parents=True, exist_ok=True)
    write_json_atomic(tmp / SPEC, spec or {})
    write_json_atomic(tmp / RESULT, {"run_id": run_id, "status": "failed", "error": error,
                                     "timings": timings or {}, "finished_at": time.time(), "worker": worker})
    return publish_results(tmp, jobs_dir, run_id)


# -- liveness and recovery -------------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs on this host (a zombie -- killed, not yet reaped -- counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError, OSError):
        return True


def beat_is_stale(beat: dict | None, *, now: float, stale_after_s: float) -> bool:
    """A beat lapses after ``stale_after_s``; on this host a dead pid makes it stale at once."""
    if not beat:
        return True
    if beat.get("host") == socket.gethostname() and beat.get("pid") and not pid_alive(int(beat["pid"])):
        return True
    return now - float(beat.get("at") or 0) > stale_after_s


def job_beat(running_dir: Path) -> dict | None:
    """The job's last heartbeat; a just-claimed job without one yet counts from its claim time."""
    beat = read_json(running_dir / HEARTBEAT)
    if beat:
        return beat
    claim = read_json(running_dir / CLAIM)
    if claim:
        return {"at": claim.get("claimed_at"), "worker": claim.get("worker")}
    try:
        return {"at": running_dir.stat().st_mtime}
    except FileNotFoundError:
        return None


def requeue_stale(jobs_dir, *, stale_after_s: float = STALE_AFTER_S, now: float | None = None) -> dict[str, str]:
    """Recover from dead workers: ``{run_id: "requeued" | "failed" | "finished"}`` for each job handled.

    Safe to call from any process at any time: every step is a rename that only one caller wins.
    """
    root = ensure_layout(jobs_dir)
    now = time.time() if now is None else now
    handled = {}
    for run_id in list_runs(root, RUNNING):
        running = root / RUNNING / run_id
        if (root / RESULTS / run_id).is_dir():          # died after publishing: nothing to redo
            release(running)
            handled[run_id] = "finished"
            continue
        if not beat_is_stale(job_beat(running), now=now, stale_after_s=stale_after_s):
            continue
        handled[run_id] = _recover(root, running, run_id)
    _sweep_leftovers(root, now=now, stale_after_s=stale_after_s)
    return {k: v for k, v in handled.items() if v}


def _recover(root: Path, running: Path, run_id: str) -> str:
    attempts = int(read_text(running / ATTEMPTS) or 0)
    if attempts >= MAX_ATTEMPTS:
        spec = read_json(running / SPEC, {})
        error = f"the worker died {attempts} times while running this job (killed, out of memory, or crashed)"
        if write_failure(root, run_id, worker=f"recovery-{worker_id()}", error=error, spec=spec):
            release(running)
            return "failed"
        return ""
    for name in (CLAIM, HEARTBEAT):
        (running / name).unlink(missing_ok=True)
    return "requeued" if move(running, root / PENDING / run_id) else ""


def _sweep_leftovers(root: Path, *, now: float, stale_after_s: float) -> None:
    """Delete half-written result copies of dead workers, abandoned job drafts, and dead workers' state files."""
    for tmp in (root / RESULTS).glob("*.tmp"):
        host, _, pid = tmp.name.rsplit(".", 2)[-2].rpartition("-")
        dead = pid.isdigit() and host.endswith(_safe_host()) and not pid_alive(int(pid))
        if dead or now - tmp.stat().st_mtime > 24 * 3600:
            shutil.rmtree(tmp, ignore_errors=True)
    for tmp in (root / PENDING).glob("*.tmp"):
        if now - tmp.stat().st_mtime > 3600:
            shutil.rmtree(tmp, ignore_errors=True)
    for path in (root / WORKERS).glob("*.json"):
        if beat_is_stale(read_json(path), now=now, stale_after_s=max(stale_after_s * 4, 120)):
            path.unlink(missing_ok=True)


# -- worker state, for the UI ------------------------------------------------------------------------------
def write_worker_state(jobs_dir, worker: str, **state) -> None:
    write_json_atomic(Path(jobs_dir) / WORKERS / f"{worker}.json",
                      {"worker": worker, "pid": os.getpid(), "host": socket.gethostname(), "at": time.time(), **state})


def clear_worker_state(jobs_dir, worker: str) -> None:
    (Path(jobs_dir) / WORKERS / f"{worker}.json").unlink(missing_ok=True)


def live_workers(jobs_dir, *, stale_after_s: float = STALE_AFTER_S, now: float | None = None) -> list[dict]:
    """State files of workers whose beat is fresh: ``{"worker", "state", "run_id", "stage", "progress", "at"}``."""
    now = time.time() if now is None else now
    folder = Path(jobs_dir) / WORKERS
    states = [read_json(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return [s for s in states if s and not beat_is_stale(s, now=now, stale_after_s=stale_after_s)]
