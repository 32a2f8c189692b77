"""What the running workbench needs from its launcher: the database path, the project, one Store.

``concord serve`` passes the settings both as script arguments (``streamlit run app.py -- --db X``)
and as environment variables (``CONCORD_DB``, ``CONCORD_PROJECT``), so the app works whether it
is started by the CLI, by ``streamlit run`` directly, or by ``AppTest`` (environment only).

DuckDB lets one process hold a database file, and every Streamlit session of a server lives in one
process, so all sessions share one ``Store`` per path (its single writer thread serialises writes).
Tests get the very same object through ``get_store`` and can seed data into it.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

ENV_DB = "CONCORD_DB"
ENV_PROJECT = "CONCORD_PROJECT"
ENV_SESSION_IDLE = "CONCORD_SESSION_IDLE_S"
DEFAULT_PROJECT = "default"

_stores: dict[str, object] = {}
_stores_lock = threading.Lock()


@dataclass(frozen=True)
class Settings:
    db_path: str
    project: str


def parse_settings(argv: list[str] | None = None, environ: dict | None = None) -> Settings:
    """Script arguments win over the environment; the database defaults to ``concord.duckdb``."""
    from store import DEFAULT_DB

    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db", default=None)
    parser.add_argument("--project", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    db_path = args.db or environ.get(ENV_DB) or DEFAULT_DB
    project = args.project or environ.get(ENV_PROJECT) or DEFAULT_PROJECT
    return Settings(db_path=str(Path(db_path).expanduser()), project=project)


def get_store(path: str):
    """The process-wide Store for ``path`` (opened on first use, never closed while serving)."""
    from store import Store

    key = path if path == ":memory:" else str(Path(path).resolve())
    with _stores_lock:
        store = _stores.get(key)
        if store is None or getattr(store, "_closed", False):
            store = Store(path)
            _stores[key] = store
        return store


def close_stores() -> None:
    """Close every Store this process opened (tests, and the server on shutdown)."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
    forget()


def session_idle_seconds(environ: dict | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        return max(60, int(environ.get(ENV_SESSION_IDLE, 4 * 3600)))
    except ValueError:
        return 4 * 3600


# -- short-lived read caches ------------------------------------------------------------------------
# A few reads happen on every run of every session (schema, project settings, the user's role) and
# change rarely; caching them for seconds keeps "submit -> next turn" fast with many sessions.
_cache: dict[tuple, tuple[float, object]] = {}
_cache_lock = threading.Lock()


def cached(key: tuple, ttl_s: float, compute):
    """``compute()``, reused for ``ttl_s`` seconds under ``key`` (process-wide, all sessions)."""
    import time

    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < ttl_s:
        return hit[1]
    value = compute()
    with _cache_lock:
        _cache[key] = (now, value)
    return value


def forget(*prefix) -> None:
    """Drop cached reads whose key starts with ``prefix`` (everything when empty), after a change."""
    with _cache_lock:
        for key in [k for k in _cache if k[:len(prefix)] == prefix]:
            del _cache[key]


# -- server-side timings ----------------------------------------------------------------------------
# The label page records how long each "submit -> next turn drawn" took inside the server (from the
# submit callback to the end of the page script); bench/bench_label_latency.py reads them.
TIMINGS: dict[str, "collections.deque[float]"] = {}


def record_timing(name: str, milliseconds: float, *, keep: int = 10_000) -> None:
    TIMINGS.setdefault(name, collections.deque(maxlen=keep)).append(milliseconds)
