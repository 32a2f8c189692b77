"""SIGKILL the process that owns the store at random moments under load: the database opens every
time, every acknowledged label is there, and no half-written import is visible."""
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from store import Store
from tests.reliability.figures import report

REPO = Path(__file__).resolve().parents[2]
KILLS = 20


def run_and_kill(db_path, workdir, threshold, delay) -> tuple[list[str], list[tuple[str, int]]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-m", "tests.reliability.crash_child", str(db_path), str(workdir), threshold],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while "READY\n" not in lines and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    assert "READY\n" in lines, child.stderr.read() if child.poll() is not None else "child never got ready"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    reader.join(timeout=5)
    acks = [line.split()[1] for line in lines if line.startswith("ACK ")]
    imports = [(line.split()[1], int(line.split()[2])) for line in lines if line.startswith("IMPORT ")]
    return acks, imports


def check_consistent(db_path, acks, imports) -> float:
    started = time.perf_counter()
    with Store(db_path) as db:
        opened = time.perf_counter() - started
        stored = {r[0] for r in db.query("SELECT annotation_id FROM annotations")}
        assert [a for a in acks if a not in stored] == [], "an acknowledged label is missing"
        recorded = dict(db.query("SELECT import_id, n_turns FROM imports"))
        for import_id, n in imports:
            assert recorded.get(import_id) == n, f"acknowledged import {import_id} missing or different"
        per_import = dict(db.query("SELECT import_id, count(*) FROM turns GROUP BY import_id"))
        assert per_import == {k: v for k, v in recorded.items() if v}, "a half-written import is visible"
        orphans = db.query("SELECT count(*) FROM imported_labels l LEFT JOIN turns t USING (turn_id) WHERE t.turn_id IS NULL")
        assert orphans == [(0,)]
    return opened


@pytest.mark.slow
@pytest.mark.parametrize("threshold", ["", "4kB"], ids=["default-checkpoint", "tiny-checkpoint"])
def test_sigkill_under_load_loses_nothing(tmp_path, threshold):
    rng = random.Random(7)
    db_path = tmp_path / "crash.duckdb"
    total_acks, reopen_times = 0, []
    for _ in range(KILLS // 2):
        acks, imports = run_and_kill(db_path, tmp_path, threshold, rng.uniform(0.2, 2.5))
        total_acks += len(acks)
        reopen_times.append(check_consistent(db_path, acks, imports))
    assert total_acks > 0, "the child never acknowledged a label: the test would prove nothing"
    report(f"app_sigkill_{threshold or 'default'}_checkpoint", kills=KILLS // 2, acknowledged=total_acks, lost=0,
           max_reopen_ms=round(max(reopen_times) * 1000, 1))
