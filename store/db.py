"""The one object that owns a Concord DuckDB file.

DuckDB lets one process hold a database file, and concurrent writers inside that process conflict
(optimistic concurrency). So, as in Datasette, one writer thread owns the write connection and runs
every write as a whole transaction, one after another; callers block until their write is committed
(durable before the caller moves on). Reads open a short-lived cursor of their own and never wait
for the writer.
"""
from __future__ import annotations

import queue
import re
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

import duckdb

from store.migrations import migrate

DEFAULT_DB = "concord.duckdb"


class StoreClosed(RuntimeError):
    pass


def open_failure_message(path: str, error: str) -> str:
    """What to tell a user whose open failed; a lock held elsewhere gets the cause and the way out.

    DuckDB lets one process hold a file, so the usual reason is a running ``concord serve``; its raw
    message (a lock, a PID, a link) names neither. The PID comes from that message when present.
    """
    if "Could not set lock" not in error and "Conflicting lock" not in error:
        return f"cannot open {path}: {error}"
    pid = re.search(r"\(PID (\d+)\)", error)
    holder = f"PID {pid.group(1)}, probably `concord serve`" if pid else "probably `concord serve`"
    return (f"{path} is open in another process ({holder}): DuckDB lets one process hold a database. "
            "Stop the workbench first, or use its Users and Export pages instead.")


def register_table(con, name: str, table) -> None:
    """Expose an Arrow table to SQL on ``con`` as ``name`` (bulk loads go through Arrow, never row by row).

    DuckDB refuses ``register`` while an earlier result on the connection is unfinished; a finished
    no-op statement clears it first.
    """
    con.execute("SELECT 1").fetchall()
    con.register(name, table)


def _params(params):
    """DuckDB takes a list for ``?`` placeholders and a dict for ``$name`` ones."""
    return params if isinstance(params, dict) else list(params)


class Store:
    """A Concord database: ``write(fn)`` for transactions, ``query``/``query_df`` for reads.

    Use as a context manager, or call ``close()``: it stops the writer and releases the file lock.
    """

    def __init__(self, path: str | Path = DEFAULT_DB, *, checkpoint_threshold: str | None = None):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = duckdb.connect(self.path)
        except duckdb.IOException as exc:
            raise RuntimeError(open_failure_message(self.path, str(exc))) from None
        if checkpoint_threshold:
            self._db.execute(f"SET checkpoint_threshold = '{checkpoint_threshold}'")
        self.schema_version = migrate(self._db)
        self._jobs: queue.Queue = queue.Queue()
        self._closed = False
        # State that only write functions touch (so only the writer thread): e.g. the queue order.
        self.writer_cache: dict = {}
        self._writer = threading.Thread(target=self._run_writer, name=f"concord-writer:{self.path}", daemon=True)
        self._writer.start()

    # -- writes -----------------------------------------------------------------------------------
    def write(self, fn: Callable[..., Any], *args: Any, timeout: float | None = 60) -> Any:
        """Run ``fn(con, *args)`` in one transaction on the writer thread; return its result once committed."""
        return self.write_async(fn, *args).result(timeout=timeout)

    def write_async(self, fn: Callable[..., Any], *args: Any) -> Future:
        if self._closed:
            raise StoreClosed(f"the store {self.path} is closed")
        future: Future = Future()
        self._jobs.put((fn, args, future))
        return future

    def _run_writer(self) -> None:
        con = self._db.cursor()
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                fn, args, future = item
                if future.set_running_or_notify_cancel():
                    self._run_one(con, fn, args, future)
        finally:
            con.close()

    @staticmethod
    def _run_one(con, fn, args, future: Future) -> None:
        try:
            con.execute("BEGIN TRANSACTION")
            result = fn(con, *args)
            con.execute("COMMIT")
        except BaseException as exc:  # the caller gets every failure, the writer survives it
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            future.set_exception(exc)
        else:
            future.set_result(result)

    # -- reads ------------------------------------------------------------------------------------
    def _cursor(self):
        if self._closed:
            raise StoreClosed(f"the store {self.path} is closed")
        return self._db.cursor()

    def query(self, sql: str, params: list | tuple | dict = ()) -> list[tuple]:
        cur = self._cursor()
        try:
            return cur.execute(sql, _params(params)).fetchall()
        finally:
            cur.close()

    def query_one(self, sql: str, params: list | tuple | dict = ()) -> tuple | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def query_df(self, sql: str, params: list | tuple | dict = ()):
        cur = self._cursor()
        try:
            return cur.execute(sql, _params(params)).df()
        finally:
            cur.close()

    def query_arrow(self, sql: str, params: list | tuple | dict = ()):
        cur = self._cursor()
        try:
            # a relation straight to Arrow: fetching Arrow from an executed (DB-API) result copies the rows once more
            return cur.sql(sql, params=_params(params)).to_arrow_table()
        finally:
            cur.close()

    def query_dicts(self, sql: str, params: list | tuple | dict = ()) -> list[dict]:
        cur = self._cursor()
        try:
            cur.execute(sql, _params(params))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            cur.close()

    # -- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._writer.join()
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(path: str | Path = DEFAULT_DB, **kwargs) -> Store:
    return Store(path, **kwargs)
