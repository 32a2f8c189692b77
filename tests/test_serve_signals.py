"""`concord serve` stopped by SIGTERM (systemd, Docker, a plain `kill`) must stop its Streamlit child:
before, only Ctrl-C ran the clean-up, so the child kept serving and kept the database file locked."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser.serving import free_port, wait_for_health

REPO = Path(__file__).resolve().parents[1]


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the child")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_to_serve_stops_the_streamlit_child(tmp_path, signum):
    db = tmp_path / "c.duckdb"
    subprocess.run([sys.executable, "-m", "workbench.cli", "init", "--db", str(db)], cwd=REPO, check=True,
                   capture_output=True)
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "workbench.cli", "serve", "--db", str(db), "--port", str(port),
                              "--no-worker"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        wait_for_health(port, serve)
        streamlit = children_of(serve.pid)
        assert streamlit, "expected serve to run Streamlit as a child process"
        serve.send_signal(signum)
        serve.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in streamlit) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(pid) for pid in streamlit), f"Streamlit child still running after {signum.name} to serve"
    finally:
        try:
            os.killpg(serve.pid, signal.SIGKILL)     # the whole session: serve and anything it left behind
        except ProcessLookupError:
            pass
        serve.wait()
