"""Opening and closing the store 200 times leaks no file handles or threads and releases the file lock."""
import os
import subprocess
import sys
import threading

import pytest

from store import Store


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
def test_open_close_200_times_leaks_nothing(tmp_path):
    path = tmp_path / "h.duckdb"
    Store(path).close()  # first open creates the file and loads extensions once
    fds, threads = open_fds(), threading.active_count()
    for i in range(200):
        with Store(path) as db:
            db.write(lambda con: con.execute("INSERT INTO projects (project) VALUES (?) ON CONFLICT DO NOTHING", ["p"]))
            db.query("SELECT count(*) FROM turns")
    assert open_fds() <= fds, f"file handles grew from {fds} to {open_fds()}"
    assert threading.active_count() == threads
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1]).close(); print('opened')"
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "opened", out.stderr


def test_the_lock_is_held_while_open(tmp_path):
    path = tmp_path / "h.duckdb"
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True); print('opened')"
    with Store(path):
        out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "lock" in out.stderr.lower()
