"""The Pipeline page follows a newly published model run without a reload.

The page's status block is a fragment that reruns itself every few seconds; the model summary, the
metrics and the run history sit outside it. A reviewer saw "Updated 06:35:45" tick on for two minutes
while the summary still said v2, because only the fragment reran. The browser's timer is played here
by running just the page's fragments (what ``run_every`` asks the server for), after a new run lands.
"""
from __future__ import annotations

import functools
import json
import time

import pytest

from app_testkit import make_template, open_copy, texts
from workbench import runtime


def _page_script():
    """What app.py's navigation does for a module page: the server-side role check, then render."""
    from workbench import auth, runtime
    from workbench.views import pipeline

    db = runtime.get_store(runtime.parse_settings().db_path)
    pipeline.render(db, auth.require_role(db, pipeline.ROLES))


def add_finished_run(db, version: str, n_labels: int, accuracy: float, finished: str) -> None:
    """A run as ``store.runs`` records one the worker published and the owner loop ingested."""
    metrics = json.dumps({"holdout": {"n": 12, "intent_accuracy": accuracy}})
    db.write(lambda con: con.execute(
        "INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
        " created_at, finished_at) VALUES (?, 'default', 'fast', 'done', ?, ?, ?, '{}', ?, ?)",
        [f"run-{version}", version, n_labels, metrics, finished, finished]))


def run_fragments_only(at, monkeypatch):
    """One tick of the page's ``run_every`` fragments: a rerun of those fragments alone, not of the page."""
    from streamlit.runtime.scriptrunner import RerunData
    from streamlit.testing.v1 import local_script_runner

    fragment_ids = list(at._fragment_storage._fragments)
    assert fragment_ids, "the page has no fragment to tick"
    with monkeypatch.context() as tick:
        tick.setattr(local_script_runner, "RerunData",
                     functools.partial(RerunData, fragment_id_queue=fragment_ids, is_auto_rerun=True))
        return at.run()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("pipeline-refresh"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    db = open_copy(template, tmp_path, monkeypatch)
    yield db
    runtime.close_stores()


def page_as_analyst():
    from streamlit.testing.v1 import AppTest

    from workbench import auth

    at = AppTest.from_function(_page_script, default_timeout=30)
    now = time.time()
    at.session_state[auth.SESSION_KEY] = {"username": "ana", "role": "analyst", "signed_in_at": now,
                                          "last_seen": now}
    return at.run()


def test_a_run_published_while_the_page_is_open_replaces_the_model_summary(app_db, monkeypatch):
    add_finished_run(app_db, "v2-fast", 207, 0.5, "2026-11-29 06:20:00")
    at = page_as_analyst()
    assert not at.exception, at.exception
    assert "Model v2-fast · 207 labels" in texts(at)
    quiet = run_fragments_only(at, monkeypatch)          # nothing published: only the status block redraws
    assert not quiet.exception, quiet.exception
    assert "Updated " in texts(quiet) and "Model v2-fast" not in texts(quiet)
    add_finished_run(app_db, "v3-fast", 221, 0.75, "2026-11-29 06:33:47")
    at = run_fragments_only(at, monkeypatch)
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Model v3-fast · 221 labels" in shown and "v2-fast · 207" not in shown
    assert [m.value for m in at.metric][0] == "75.0%"
    assert list(at.dataframe[0].value["version"]) == ["v3-fast", "v2-fast"]
