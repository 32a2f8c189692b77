"""``concord worker``: the background process that retrains, rescores the pool and reorders the queue.

It never opens the database: jobs arrive as folders (``store.jobfiles``), results leave as folders.
The loop: requeue jobs whose worker died, claim the newest pending job by atomic rename, train /
score / rank it (``pipeline.worker_job.run_job``) while a heartbeat thread refreshes the job's
heartbeat and this worker's state file, then publish the results by atomic rename. A failure is
published as a failed result (the UI shows the error); a stop request (SIGTERM / SIGINT) gives the
job back to ``pending/`` unfinished; a SIGKILL leaves a job whose heartbeat lapses and is redone.

Fault injection for crash tests: ``CONCORD_WORKER_PAUSE_AT=stage[,stage]`` makes the worker write
``<jobs>/faults/<stage>`` (its pid) and sleep ``CONCORD_WORKER_PAUSE_S`` seconds (default 60) the
first time it reaches that checkpoint on a job's first attempt (``CONCORD_WORKER_PAUSE_ATTEMPT``, default
1; ``any`` for every attempt), so a test can SIGKILL it at an exact point and watch the redo run
through. The checkpoints,
in order: claimed, loaded, train_start, training (inside the model's training, at its first progress
report), trained, evaluated, refitted (these two only with a held-out slice), scored, routing (only when
unreadable turns go to the multilingual encoder), ranked, writing
(predictions written, the rest not yet), results_written (complete, not yet renamed), published
(renamed, running/ not yet removed), released.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

# Before numpy / tokenizers load: on a shared 2-core machine, default BLAS and OpenMP pools oversubscribe
# the CPU and make a seconds-long refit take a minute. Threads are set deliberately (CONCORD_THREADS).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, os.environ.get("CONCORD_THREADS") or str(min(2, os.cpu_count() or 1)))

from store import jobfiles as jf  # noqa: E402

ENV_PAUSE_AT, ENV_PAUSE_S = "CONCORD_WORKER_PAUSE_AT", "CONCORD_WORKER_PAUSE_S"
ENV_PAUSE_ATTEMPT = "CONCORD_WORKER_PAUSE_ATTEMPT"
FAULTS_DIR = "faults"


class StopRequested(BaseException):
    """SIGTERM / SIGINT: give the current job back and exit (BaseException so `except Exception` lets it pass)."""


class ClaimLost(Exception):
    """Another process declared this worker dead and requeued its job: drop the work, keep no results."""


def log(message: str) -> None:
    print(f"[concord worker {os.getpid()}] {message}", file=sys.stderr, flush=True)


class Heartbeat(threading.Thread):
    """Refreshes the claimed job's heartbeat and this worker's state file every ``interval_s``."""

    def __init__(self, jobs_dir: Path, worker: str, interval_s: float):
        super().__init__(name="concord-heartbeat", daemon=True)
        self.jobs_dir, self.worker, self.interval_s = jobs_dir, worker, interval_s
        self.running_dir: Path | None = None
        self.stage, self.progress, self.started = "idle", None, None
        self.lost = False
        self._wake = threading.Event()
        self._done = threading.Event()

    def track(self, running_dir: Path | None, stage: str = "idle", progress: float | None = None) -> None:
        self.running_dir, self.stage, self.progress, self.lost = running_dir, stage, progress, False
        self.started = time.time() if running_dir is not None else None
        self.beat_now()

    def update(self, stage: str, progress: float | None) -> None:
        self.stage, self.progress = stage, progress if progress is not None else self.progress

    def beat_now(self) -> None:
        running = self.running_dir
        if running is not None and not jf.beat(running, self.worker, stage=self.stage, progress=self.progress):
            self.lost = True
        jf.write_worker_state(self.jobs_dir, self.worker, state="training" if running is not None else "idle",
                              run_id=running.name if running is not None else None, stage=self.stage,
                              progress=self.progress, job_started_at=self.started)

    def run(self) -> None:
        while not self._done.wait(self.interval_s):
            try:
                self.beat_now()
            except OSError as exc:   # the jobs folder vanished or the disk is full: keep trying
                log(f"heartbeat failed: {exc}")

    def stop(self) -> None:
        self._done.set()


class Worker:
    """One worker process's loop over a jobs folder (see the module docstring)."""

    def __init__(self, jobs_dir, *, poll_s: float = 1.0, heartbeat_s: float = 2.0,
                 stale_after_s: float = jf.STALE_AFTER_S, environ: dict | None = None, parent_pid: int | None = None):
        self.jobs_dir = jf.ensure_layout(jobs_dir)
        self.worker = jf.worker_id()
        self.poll_s, self.stale_after_s = poll_s, stale_after_s
        self.heartbeat = Heartbeat(self.jobs_dir, self.worker, heartbeat_s)
        env = os.environ if environ is None else environ
        self.pause_at = {s.strip() for s in (env.get(ENV_PAUSE_AT) or "").split(",") if s.strip()}
        self.pause_s = float(env.get(ENV_PAUSE_S) or 60)
        self.pause_attempt = env.get(ENV_PAUSE_ATTEMPT) or "1"
        self.attempt: int | None = None
        self.stopping = False
        self.busy = False
        self.parent_pid = parent_pid       # exit when this process is gone (the supervisor was killed)
        self._paused: set[str] = set()

    # -- signals ------------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def on_signal(signum, frame):
            self.stopping = True
            if self.busy:
                self.busy = False          # a second signal while giving the job back must not interrupt that
                raise StopRequested(signal.Signals(signum).name)
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    # -- the loop -------------------------------------------------------------------------------------
    def run(self, *, once: bool = False) -> int:
        """Work until stopped (or, with ``once``, until no job is pending). Returns an exit status."""
        log(f"watching {self.jobs_dir} as {self.worker}")
        self.heartbeat.start()
        self.heartbeat.track(None)
        try:
            while not self.orphaned():
                if self.step() is None:
                    if once:
                        break
                    time.sleep(self.poll_s)
        except StopRequested:
            pass
        finally:
            self.heartbeat.stop()
            jf.clear_worker_state(self.jobs_dir, self.worker)
            log("stopped")
        return 0

    def step(self) -> str | None:
        """Recover dead workers' jobs, then claim and run one job. Returns its run id, or None if idle."""
        for run_id, action in jf.requeue_stale(self.jobs_dir, stale_after_s=self.stale_after_s).items():
            log(f"{run_id}: its worker is gone; {action}")
        running = jf.claim_next(self.jobs_dir, worker=self.worker)
        if running is None:
            self.heartbeat.beat_now()
            return None
        self.process(running)
        return running.name

    def orphaned(self) -> bool:
        if not self.stopping and self.parent_pid and os.getppid() != self.parent_pid:
            log(f"parent process {self.parent_pid} is gone; stopping")
            self.stopping = True
        return self.stopping

    def checkpoint(self, stage: str, progress: float | None = None) -> None:
        """Between stages: report progress, honour stop requests and lost claims, pause if a test asked."""
        self.heartbeat.update(stage, progress)
        if self.orphaned():
            raise StopRequested("stop requested")
        if self.heartbeat.lost:
            raise ClaimLost(stage)
        if stage in self.pause_at and stage not in self._paused and self.pause_attempt in ("any", str(self.attempt)):
            self._paused.add(stage)
            faults = self.jobs_dir / FAULTS_DIR
            faults.mkdir(exist_ok=True)
            (faults / stage).write_text(str(os.getpid()))
            log(f"paused at {stage} for {self.pause_s} s ({ENV_PAUSE_AT})")
            time.sleep(self.pause_s)

    # -- one job -------------------------------------------------------------------------------------------
    def process(self, running: Path) -> None:
        run_id = running.name
        tmp = jf.results_tmp_dir(self.jobs_dir, run_id, self.worker)
        spec = jf.read_json(running / jf.SPEC, {})
        claim = jf.read_json(running / jf.CLAIM, {})
        log(f"{run_id}: claimed (attempt {claim.get('attempt')}, {spec.get('n_labels')} labels, "
            f"{spec.get('n_pool')} turns)")
        self.busy, self.attempt = True, claim.get("attempt")
        self.heartbeat.track(running, "claimed", 0.0)
        try:
            self.checkpoint("claimed", 0.0)
            result = self._run(running, tmp, spec, claim)
            self._publish(running, tmp, run_id, result)
        except StopRequested:
            self._abandon(running, tmp, run_id, give_back=True)
            raise
        except ClaimLost:
            log(f"{run_id}: another process requeued this job (heartbeat judged lapsed); dropping my copy")
            self._abandon(running, tmp, run_id, give_back=False)
        except Exception as exc:  # the job failed: publish the error so the owner records it
            self._fail(running, tmp, run_id, spec, exc)
        finally:
            self.busy = False
            self.heartbeat.track(None)

    def _run(self, running: Path, tmp: Path, spec: dict, claim: dict) -> dict:
        from pipeline.worker_job import run_job

        result = run_job(running, tmp, checkpoint=self.checkpoint)
        created = spec.get("created_at")
        if created:
            from datetime import datetime, timezone

            made = datetime.fromisoformat(created).replace(tzinfo=timezone.utc).timestamp()
            result["timings"]["queue_wait_s"] = round(max(0.0, float(claim.get("claimed_at", made)) - made), 3)
        result.update(worker=self.worker, attempt=claim.get("attempt"))
        jf.write_json_atomic(tmp / jf.RESULT, result)
        return result

    def _publish(self, running: Path, tmp: Path, run_id: str, result: dict) -> None:
        if not jf.still_mine(running, self.worker):
            raise ClaimLost("before publishing")
        if jf.publish_results(tmp, self.jobs_dir, run_id):
            log(f"{run_id}: published in {result['timings']['total_s']:.1f} s")
        else:
            log(f"{run_id}: results were already published by another worker; mine discarded")
        self.checkpoint("published", 1.0)
        jf.release(running)
        self.checkpoint("released", 1.0)

    def _abandon(self, running: Path, tmp: Path, run_id: str, *, give_back: bool) -> None:
        shutil.rmtree(tmp, ignore_errors=True)
        if (self.jobs_dir / jf.RESULTS / run_id).is_dir():
            jf.release(running)          # already published: nothing to give back
        elif give_back and jf.still_mine(running, self.worker):
            jf.give_back(running, self.jobs_dir)
            log(f"{run_id}: stopped; job returned to pending")

    def _fail(self, running: Path, tmp: Path, run_id: str, spec: dict, exc: Exception) -> None:
        shutil.rmtree(tmp, ignore_errors=True)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        log(f"{run_id}: failed: {detail}\n{traceback.format_exc()}")
        if jf.still_mine(running, self.worker):
            jf.write_failure(self.jobs_dir, run_id, worker=self.worker, error=detail, spec=spec)
            jf.release(running)


# -- command line -------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", default=os.environ.get(jf.ENV_JOBS),
                        help=f"the jobs folder shared with the workbench (default ${jf.ENV_JOBS})")
    parser.add_argument("--once", action="store_true", help="run the pending jobs, then exit (no waiting)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks for new jobs (default 1)")
    parser.add_argument("--heartbeat", type=float, default=2.0, help="seconds between heartbeats (default 2)")
    parser.add_argument("--stale-after", type=float, default=jf.STALE_AFTER_S,
                        help=f"a job whose heartbeat is older than this is requeued (default {jf.STALE_AFTER_S:g})")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default $CONCORD_THREADS or min(2, cores))")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop (giving the job back) when the parent process dies; used by concord serve")


def run_from_args(args) -> int:
    if not args.jobs:
        raise ValueError(f"--jobs: expected the jobs folder (or ${jf.ENV_JOBS}), got nothing")
    threads = args.threads or int(os.environ.get("CONCORD_THREADS") or min(2, os.cpu_count() or 1))
    os.environ["CONCORD_THREADS"] = str(threads)          # torch threads (pipeline.encoders.configure_threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)                     # BLAS / OpenMP pools already loaded (concord worker)
    worker = Worker(args.jobs, poll_s=args.poll, heartbeat_s=args.heartbeat, stale_after_s=args.stale_after,
                    parent_pid=os.getppid() if getattr(args, "exit_with_parent", False) else None)
    worker.install_signal_handlers()
    return worker.run(once=args.once)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.worker", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
        return 2


if __name__ == "__main__":
    sys.exit(main())
