"""Shared pieces of the reliability browser tests: serving a database and signing in.

Serving, chromium and the sentinel come from tests/browser/serving.py, so every browser suite drives the
app the same way.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

BROWSER_TESTS = Path(__file__).resolve().parents[1] / "browser"
if str(BROWSER_TESTS) not in sys.path:
    sys.path.insert(0, str(BROWSER_TESTS))
import serving  # noqa: E402
from serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Sentinel, require_chromium, stop, wait_until  # noqa: E402

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "Sentinel", "served", "sign_in", "wait_until", "stop",
           "exception_texts", "require_chromium"]


@contextmanager
def served(db_path: Path, workdir: Path, *, health_timeout: float = 120):
    """``concord serve --no-worker`` on a free port against ``db_path``; stopped (SIGINT) on exit."""
    with serving.served(db_path, workdir, health_timeout=health_timeout) as app:
        yield app


def sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(url, timeout=120_000)
    page.get_by_label("User name").fill(username, timeout=120_000)
    page.get_by_role("textbox", name="Password").fill(password)
    page.keyboard.press("Enter")


def exception_texts(page) -> list[str]:
    """The text of every Streamlit exception element on the page (an unhandled error in a script)."""
    return page.locator("[data-testid='stException']").all_inner_texts()
