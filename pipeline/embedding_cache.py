"""Disk cache of sentence and token embeddings, keyed by (encoder identity, sha256 of the text).

Why a cache: the fast extractor and the active-learning loop refit light heads many times over
the same turns; embedding is the slow part, so a turn must never be embedded twice, across
processes too (the background worker and the CLI share the cache). SQLite (stdlib, WAL mode) gives
atomic, concurrent-safe writes without a server; one file per encoder identity keeps invalidation
trivial (a different encoder never sees another's vectors). Token vectors are stored as float16 to
halve the size; sentence vectors stay float32.
"""
from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from pathlib import Path

import numpy as np

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sentence (sha TEXT PRIMARY KEY, vec BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tokens (sha TEXT PRIMARY KEY, n INTEGER NOT NULL,"
    " vecs BLOB NOT NULL, offsets BLOB NOT NULL)",
)
_CHUNK = 500  # SQLite's default limit on host parameters is 999 on old builds


def default_cache_dir() -> Path:
    """Where caches live unless told otherwise: $CONCORD_CACHE, else ~/.cache/concord."""
    return Path(os.environ.get("CONCORD_CACHE") or Path.home() / ".cache" / "concord")


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Sentence vectors (dim,) float32 and token features ((t, dim) float16 + (t, 2) offsets)."""

    def __init__(self, root: str | os.PathLike, namespace: str, dim: int):
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", namespace)[:120]
        self.path = Path(root) / "embeddings" / f"{slug}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        self._pid = -1

    def _connection(self) -> sqlite3.Connection:
        if self._con is None or self._pid != os.getpid():  # never share a connection across fork
            con = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                con.execute(statement)
            con.commit()
            self._con, self._pid = con, os.getpid()
        return self._con

    def _select(self, table: str, columns: str, shas: list[str]) -> list[tuple]:
        rows: list[tuple] = []
        unique = list(dict.fromkeys(shas))
        with self._lock:
            con = self._connection()
            for i in range(0, len(unique), _CHUNK):
                chunk = unique[i:i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows += con.execute(f"SELECT sha, {columns} FROM {table} WHERE sha IN ({marks})", chunk).fetchall()
        return rows

    def get_sentences(self, shas: list[str]) -> dict[str, np.ndarray]:
        rows = self._select("sentence", "vec", shas)
        return {sha: np.frombuffer(blob, dtype=np.float32) for sha, blob in rows}

    def put_sentences(self, items: dict[str, np.ndarray]) -> None:
        payload = [(sha, np.asarray(v, dtype=np.float32).tobytes()) for sha, v in items.items()]
        with self._lock:
            con = self._connection()
            con.executemany("INSERT OR REPLACE INTO sentence VALUES (?, ?)", payload)
            con.commit()

    def get_tokens(self, shas: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rows = self._select("tokens", "n, vecs, offsets", shas)
        out = {}
        for sha, n, vecs, offsets in rows:
            vectors = np.frombuffer(vecs, dtype=np.float16).reshape(n, self.dim).astype(np.float32)
            out[sha] = (vectors, np.frombuffer(offsets, dtype=np.int32).reshape(n, 2))
        return out

    def put_tokens(self, items: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        payload = [
            (sha, len(vecs), np.asarray(vecs, dtype=np.float16).tobytes(),
             np.asarray(offsets, dtype=np.int32).tobytes())
            for sha, (vecs, offsets) in items.items()
        ]
        with self._lock:
            con = self._connection()
            con.executemany("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)", payload)
            con.commit()

    def close(self) -> None:
        with self._lock:
            if self._con is not None and self._pid == os.getpid():
                self._con.close()
            self._con = None
