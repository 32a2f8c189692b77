"""What every browser test shares: Debian's chromium, a free port, `concord serve` started against a
database and stopped with its whole process group, and a sentinel server that must never be reached.

Imported by tests/browser/test_*_browser.py and tests/reliability/browser_kit.py, so every suite drives
the app the same way (Datasette's pattern: a real server on a free port, opt-in with ``-m browser``).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    """Skip (not fail) where Playwright or Debian's chromium is missing: browser tests are opt-in."""
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sentinel:
    """A local HTTP server that records every request: the page must never reach it."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                hits.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_for_health(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"concord serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("concord serve did not become healthy")


def stop(server: subprocess.Popen) -> None:
    """SIGINT to the server's process group (its worker too), SIGKILL after 20 s."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@contextmanager
def served(db_path: Path, workdir: Path, *, worker: bool = False, env: dict | None = None,
           health_timeout: float = 60):
    """``concord serve`` on a free port against ``db_path`` (``--no-worker`` unless ``worker``), log in
    ``workdir/serve.log``; yields ``{url, port, server, log}`` and stops the server on exit."""
    port = free_port()
    command = [sys.executable, "-m", "workbench.cli", "serve", "--db", str(db_path), "--port", str(port)]
    log_path = Path(workdir) / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command + ([] if worker else ["--no-worker"]), stdout=log, stderr=subprocess.STDOUT,
                                  cwd=workdir, env=env, start_new_session=True)
        try:
            wait_for_health(port, server, timeout=health_timeout)
            yield {"url": f"http://localhost:{port}", "port": port, "server": server, "log": log_path}
        finally:
            stop(server)


def wait_until(predicate, timeout: float, what: str, *, every: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def sign_in(page, user: str, password: str) -> None:
    """Fill the workbench's sign-in form on ``page`` and submit it with Enter, as a person would."""
    page.get_by_label("User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.keyboard.press("Enter")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
