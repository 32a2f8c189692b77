"""The owner loop: a daemon thread in the app process that keeps the model in step with the labels.

The app process owns the DuckDB file, so it is the one that snapshots labels into jobs and ingests
the worker's results (``store.runs``); the worker only ever sees files. Every few seconds the loop:
recovers jobs of dead workers, mirrors job folders into run statuses, ingests finished results (the
queue order and suggestions change right there), and writes a new job when one is due:

* ``fast`` every ``every_labels`` new labels (default 20) -- and once at the start, so even the first
  turns are a diverse cold-start sample rather than a shuffle;
* ``full`` (fine-tune) every ``full_every_labels`` new labels (default 500), or after
  ``full_every_s`` (default an hour) if any label changed since the last one;
* on demand: ``request_retrain`` (the pipeline page's "Retrain now" button).

Settings come from the environment ``concord serve`` passes on: CONCORD_RETRAIN_EVERY,
CONCORD_FULL_EVERY, CONCORD_FULL_INTERVAL_S, CONCORD_FULL_BUDGET_S, CONCORD_ENCODER,
CONCORD_BACKGROUND_POLL_S.

Counting is done against the newest run of the kind in the database, so the schedule survives an
app restart. Serving the next turn never waits for any of this: the queue order is precomputed.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from store import jobfiles, runs
from store.db import StoreClosed

log = logging.getLogger("concord.background")

ENV_EVERY, ENV_FULL_EVERY, ENV_FULL_INTERVAL = "CONCORD_RETRAIN_EVERY", "CONCORD_FULL_EVERY", "CONCORD_FULL_INTERVAL_S"
ENV_ENCODER, ENV_POLL, ENV_FULL_BUDGET = "CONCORD_ENCODER", "CONCORD_BACKGROUND_POLL_S", "CONCORD_FULL_BUDGET_S"
LIVE = ("queued", "running", "done", "failed")      # runs that count for scheduling (not superseded ones)


@dataclass(frozen=True)
class Triggers:
    """When to retrain. ``from_env`` reads the CONCORD_* variables ``concord serve`` passes on."""

    every_labels: int = 20
    full_every_labels: int = 500
    full_every_s: float = 3600.0
    poll_s: float = 2.0
    stale_after_s: float = jobfiles.STALE_AFTER_S
    encoder: str | None = None
    seed: int = 0
    full_budget_s: float | None = None      # wall-time cap of a fine-tune (None: the model's default)

    def train_options(self, kind: str) -> dict:
        return {"time_budget_s": self.full_budget_s} if kind == "full" and self.full_budget_s else {}

    def __post_init__(self):
        for name in ("every_labels", "full_every_labels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive number of labels, got {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Triggers":
        env = os.environ if environ is None else environ
        return cls(every_labels=int(env.get(ENV_EVERY) or 20), full_every_labels=int(env.get(ENV_FULL_EVERY) or 500),
                   full_every_s=float(env.get(ENV_FULL_INTERVAL) or 3600), poll_s=float(env.get(ENV_POLL) or 2.0),
                   encoder=env.get(ENV_ENCODER) or None,
                   full_budget_s=float(env[ENV_FULL_BUDGET]) if env.get(ENV_FULL_BUDGET) else None)


def _age_s(created_at, now: datetime) -> float:
    return (now - created_at).total_seconds() if created_at is not None else float("inf")


def due_jobs(db, project: str, triggers: Triggers, *, now: datetime | None = None) -> list[tuple[str, str]]:
    """The jobs to write now, as ``(kind, reason)``; empty when the model is up to date."""
    from store.turns import count_turns

    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    due = []
    last_fast = runs.latest_run(db, project, kind="fast", statuses=LIVE)
    if last_fast is None:
        if count_turns(db, project):
            due.append(("fast", "first run"))
    else:
        new = runs.label_activity_since(db, project, last_fast["created_at"])
        if new >= triggers.every_labels:
            due.append(("fast", f"{new} new labels"))
    last_full = runs.latest_run(db, project, kind="full", statuses=LIVE)
    since_full = runs.label_activity_since(db, project, last_full["created_at"] if last_full else None)
    labelled = (last_fast or {}).get("n_labels") or 0
    if since_full >= triggers.full_every_labels or (last_full is None and labelled >= triggers.full_every_labels):
        due.append(("full", f"{max(since_full, labelled)} labels since the last fine-tune"))
    elif last_full is not None and since_full and _age_s(last_full["created_at"], now) >= triggers.full_every_s:
        due.append(("full", f"scheduled ({since_full} labels changed in the last {triggers.full_every_s / 3600:g} h)"))
    return due


def request_retrain(db, jobs_dir, project: str, *, kind: str = "fast", reason: str = "on demand",
                    triggers: Triggers | None = None) -> str:
    """Write a job now (the "Retrain now" button). Returns its run id; the loop ingests the result."""
    triggers = triggers or Triggers.from_env()
    run_id = runs.write_job(db, jobs_dir, project=project, kind=kind, reason=reason, encoder=triggers.encoder,
                            seed=triggers.seed, batch_size=triggers.every_labels,
                            train_options=triggers.train_options(kind))
    loop = _loops.get(_key(db, project))
    if loop is not None:
        loop.wake()
    return run_id


@dataclass
class OwnerLoop:
    """The daemon thread (see the module docstring). ``tick()`` is one pass, also callable directly."""

    db: object
    jobs_dir: Path
    project: str = "default"
    triggers: Triggers = field(default_factory=Triggers)
    last_error: str | None = None
    ticks: int = 0

    def __post_init__(self):
        self.jobs_dir = jobfiles.ensure_layout(self.jobs_dir)
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> dict:
        """Recover, mirror statuses, ingest, then write whatever jobs are due. Returns what happened."""
        recovered = jobfiles.requeue_stale(self.jobs_dir, stale_after_s=self.triggers.stale_after_s)
        runs.sync_job_states(self.db, self.jobs_dir)
        ingested = runs.ingest_results(self.db, self.jobs_dir)
        written = []
        for kind, reason in due_jobs(self.db, self.project, self.triggers):
            written.append(runs.write_job(self.db, self.jobs_dir, project=self.project, kind=kind, reason=reason,
                                          encoder=self.triggers.encoder, seed=self.triggers.seed,
                                          batch_size=self.triggers.every_labels,
                                          train_options=self.triggers.train_options(kind)))
        self.ticks += 1
        return {"recovered": recovered, "ingested": ingested, "written": written}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.tick()
                self.last_error = None
                if done["ingested"] or done["written"]:
                    log.info("pipeline: %s", done)
            except StoreClosed:
                return
            except Exception as exc:  # keep looping: a bad job must not stop retraining for good
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("pipeline owner loop")
            self._wake.wait(self.triggers.poll_s)
            self._wake.clear()

    def start(self) -> "OwnerLoop":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"concord-owner:{self.project}", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


_loops: dict[tuple, OwnerLoop] = {}
_loops_lock = threading.Lock()


def _key(db, project: str) -> tuple:
    return (str(Path(db.path).resolve()) if db.path != ":memory:" else id(db), project)


def ensure_owner_loop(db, project: str = "default", *, jobs_dir=None, triggers: Triggers | None = None) -> OwnerLoop:
    """The one running loop for this store and project (started on first call; restarted if it died)."""
    with _loops_lock:
        loop = _loops.get(_key(db, project))
        if loop is None or loop.db is not db:
            if loop is not None:
                loop.stop(timeout=1)
            loop = OwnerLoop(db, Path(jobs_dir or jobfiles.default_jobs_dir(db.path)), project,
                             triggers or Triggers.from_env())
            _loops[_key(db, project)] = loop
        return loop.start()


def owner_loop_for(db, project: str = "default") -> OwnerLoop | None:
    return _loops.get(_key(db, project))


def stop_all(timeout: float = 10.0) -> None:
    with _loops_lock:
        loops = list(_loops.values())
        _loops.clear()
    for loop in loops:
        loop.stop(timeout)


def seconds_since(timestamp: float | None) -> float | None:
    return None if timestamp is None else max(0.0, time.time() - float(timestamp))


def start_for_app(db, project: str = "default") -> OwnerLoop | None:
    """Called by the app on every script run: under ``concord serve`` (which sets ``CONCORD_JOBS``) make
    sure this store's loop runs -- started once per store, restarted if it died; elsewhere (AppTest, a
    bare ``streamlit run``) do nothing, so no thread writes to a database nobody asked to retrain."""
    if not os.environ.get(jobfiles.ENV_JOBS):
        return None
    return ensure_owner_loop(db, project)
