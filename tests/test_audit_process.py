"""The browser's label-error audit runs in a child process (``pipeline.audit_run``): torch stays out of
the app, the child's outcome (rows, its own error, or its death) comes back, and no files are left."""
from __future__ import annotations

import tempfile
import threading
import time

import pytest

from workbench.components import audit

GREET, BYE = ["hi there", "hello", "hey you", "good morning"], ["bye now", "goodbye", "see you later", "farewell"]


def labelled(flip: str | None = None) -> list[dict]:
    texts = [(t, "greet") for t in GREET * 3] + [(t, "bye") for t in BYE * 3]
    return [{"id": f"t{i}", "text": t, "intents": ["bye" if (i == 1 and flip) else label], "entities": [], "sentiment": None}
            for i, (t, label) in enumerate(texts)]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Temporary folders go under tmp_path, so a test can see whether the audit left any behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def run_in_thread(records: list[dict]) -> tuple[threading.Thread, dict, list]:
    current, outcome = {"state": "running"}, []
    thread = threading.Thread(target=lambda: outcome.append(audit._audit_in_child(records, current)), daemon=True)
    thread.start()
    return thread, current, outcome


def test_a_killed_audit_process_fails_the_audit_and_leaves_no_files(private_tmp):
    thread, _, outcome = run_in_thread(labelled())
    deadline = time.time() + 30
    while not audit._children and thread.is_alive() and time.time() < deadline:
        time.sleep(0.01)
    for child in list(audit._children):
        child.kill()
    thread.join(60)
    assert outcome and outcome[0]["state"] == "failed", outcome
    assert "exit code" in outcome[0]["error"]
    assert not audit._children and list(private_tmp.iterdir()) == []


@pytest.mark.slow
def test_the_audit_process_reports_its_own_error(private_tmp):
    thread, _, outcome = run_in_thread([])
    thread.join(120)
    assert [(o["state"], o["error"].splitlines()[0]) for o in outcome] == [   # then its traceback
        ("failed", "ValueError: expected labelled turns (intents, entities or sentiment), got none")]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.slow
def test_the_audit_process_ranks_a_flipped_label_first_and_reports_progress(private_tmp):
    thread, current, outcome = run_in_thread(labelled(flip="bye"))
    thread.join(180)
    assert outcome and outcome[0]["state"] == "done", outcome
    rows = outcome[0]["rows"]
    assert rows[0]["id"] == "t1" and rows[0]["given"] == "bye" and rows[0]["suggested"] == "greet", rows[:3]
    assert current.get("fraction") == 1.0 and current.get("stage")
    assert list(private_tmp.iterdir()) == []
