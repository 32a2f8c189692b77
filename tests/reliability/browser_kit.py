"""Shared pieces of the reliability browser tests: serving a database and signing in.

The server, chromium and sentinel helpers are the label browser test's own (tests/browser/
test_label_browser.py), imported rather than copied, so both suites drive the app the same way.
"""
from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

BROWSER_TESTS = Path(__file__).resolve().parents[1] / "browser"
if str(BROWSER_TESTS) not in sys.path:
    sys.path.insert(0, str(BROWSER_TESTS))
from test_label_browser import (  # noqa: E402
    ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Sentinel, free_port, stop, wait_for_health,
)

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "Sentinel", "served", "sign_in", "wait_until", "stop",
           "exception_texts", "require_chromium"]


def require_chromium() -> None:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")


@contextmanager
def served(db_path: Path, workdir: Path, *, health_timeout: float = 120):
    """``concord serve --no-worker`` on a free port against ``db_path``; stopped (SIGINT) on exit."""
    port = free_port()
    log = open(workdir / "serve.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--db", str(db_path), "--port", str(port), "--no-worker"],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    try:
        wait_for_health(port, server, timeout=health_timeout)
        yield {"url": f"http://localhost:{port}", "server": server, "log": workdir / "serve.log"}
    finally:
        stop(server)
        log.close()


def wait_until(predicate, timeout: float, what: str, *, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(url, timeout=120_000)
    page.get_by_label("User name").fill(username, timeout=120_000)
    page.get_by_role("textbox", name="Password").fill(password)
    page.keyboard.press("Enter")


def exception_texts(page) -> list[str]:
    """The text of every Streamlit exception element on the page (an unhandled error in a script)."""
    return page.locator("[data-testid='stException']").all_inner_texts()
