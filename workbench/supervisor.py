"""Start the background worker as a child process and restart it whenever it dies.

``concord serve`` runs one ``WorkerSupervisor`` beside the Streamlit server. The worker is a separate
process (``python -m pipeline.worker``) so torch never loads into the app and a crash, an
out-of-memory kill or a SIGKILL of the worker leaves the app serving; the supervisor starts a new
worker after a short back-off (doubling while it keeps dying quickly, reset after a healthy
minute), and the new worker requeues the dead one's job (its heartbeat lapsed). The supervisor
looks like a ``subprocess.Popen`` (``poll / terminate / wait / kill``) so the serve command can
stop it like any other child. The worker's output goes to ``<jobs>/worker.log``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from store import jobfiles

HEALTHY_AFTER_S = 60.0


def worker_command(jobs_dir, *, python: str | None = None, extra_args: tuple[str, ...] = ()) -> list[str]:
    return [python or sys.executable, "-m", "pipeline.worker", "--jobs", str(jobs_dir), "--exit-with-parent",
            *extra_args]


def worker_environment(base: dict | None = None, *, threads: int | None = None) -> dict:
    """The worker's environment: offline hub, no tokenizer thread pool, torch threads set deliberately."""
    env = dict(os.environ if base is None else base)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    if threads is not None:
        env["CONCORD_THREADS"] = str(threads)
    repo = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([repo, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return env


class WorkerSupervisor:
    """Keeps one worker process running until ``terminate()``; Popen-like so callers can stop it."""

    def __init__(self, jobs_dir, *, python: str | None = None, env: dict | None = None,
                 extra_args: tuple[str, ...] = (), restart_delay_s: float = 1.0, max_delay_s: float = 60.0,
                 log_path=None):
        self.jobs_dir = jobfiles.ensure_layout(jobs_dir)
        self.command = worker_command(self.jobs_dir, python=python, extra_args=extra_args)
        self.env = worker_environment(env)
        self.restart_delay_s, self.max_delay_s = restart_delay_s, max_delay_s
        self.log_path = Path(log_path) if log_path else self.jobs_dir / "worker.log"
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self.started_at = time.monotonic()
        self.exit_codes: list[int] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="concord-worker-supervisor", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "WorkerSupervisor":
        self._spawn()
        self._thread.start()
        return self

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            with open(self.log_path, "ab") as log:
                # Its own session: a Ctrl-C in the terminal reaches serve, which stops the worker in
                # order (no restart race); if serve itself dies, the worker notices and exits.
                self.process = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.started_at = time.monotonic()

    def _watch(self) -> None:
        delay = self.restart_delay_s
        while not self._stopping.is_set():
            code = self.process.wait()
            if self._stopping.is_set():
                return
            self.exit_codes.append(code)
            lived = time.monotonic() - self.started_at
            delay = self.restart_delay_s if lived >= HEALTHY_AFTER_S else min(delay * 2, self.max_delay_s)
            self._note(f"worker exited with status {code} after {lived:.0f} s; restarting in {delay:g} s")
            if self._stopping.wait(delay):
                return
            self.restarts += 1
            self._spawn()

    def _note(self, message: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"[concord supervisor] {message}\n")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    # -- Popen-like -------------------------------------------------------------------------------
    def poll(self) -> int | None:
        """None while supervising (the worker is restarted if it dies); 0 once stopped."""
        return 0 if self._stopping.is_set() and (self.process is None or self.process.poll() is not None) else None

    def terminate(self) -> None:
        """Stop restarting and ask the worker to stop (it gives its job back to pending)."""
        self._stopping.set()
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()

    def wait(self, timeout: float | None = None) -> int:
        if self.process is not None:
            self.process.wait(timeout)
        self._thread.join(timeout=1)
        return 0

    def kill(self) -> None:
        self._stopping.set()
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
