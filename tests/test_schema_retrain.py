"""A rename or merge on the admin Schema page queues a retrain, as the Pipeline page's "Retrain now" does.

Suggestions come from the newest model run, trained under the old names; without a new run they kept
offering "greeting" after it became "hello" until 20 more labels triggered the next retrain. The job
is the one ``background.request_retrain`` writes (jobs/pending, a queued run), so a worker picks it up.
"""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, signed_in, texts
from store import jobfiles as jf
from store import runs
from workbench import runtime


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("schema-retrain"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    monkeypatch.delenv(jf.ENV_JOBS, raising=False)
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def queued_jobs(db) -> list[dict]:
    """The pending jobs a worker would take, as their specs (oldest first)."""
    root = jf.default_jobs_dir(db.path)
    return [jf.read_json(root / jf.PENDING / run_id / jf.SPEC) for run_id in jf.list_runs(root, jf.PENDING)]


def test_renaming_an_intent_queues_a_retrain_that_knows_the_new_name(app_db):
    at = signed_in("boss").switch_page("views/admin_schema.py").run()
    assert queued_jobs(app_db) == []
    at.selectbox(key="rename-old-intent").select("greeting")
    at.text_input(key="rename-new-intent").input("hello")
    at.button(key="FormSubmitter:rename-intent-Rename").click()
    at.run()
    assert not at.exception, at.exception
    jobs = queued_jobs(app_db)
    assert len(jobs) == 1 and jobs[0]["kind"] == "fast"
    assert jobs[0]["reason"] == "label schema changed (boss): intent 'greeting' renamed to 'hello'"
    assert "hello" in jobs[0]["label_schema"]["intents"] and "greeting" not in jobs[0]["label_schema"]["intents"]
    assert runs.run_history(app_db)[0]["status"] == "queued"
    assert "A retrain is queued" in texts(at)


def test_merging_labels_queues_a_retrain(app_db):
    at = signed_in("boss").switch_page("views/admin_schema.py").run()
    at.multiselect(key="merge-src-intent").select("cancel_order")
    at.selectbox(key="merge-dst-intent").select("return_item")
    at.button(key="FormSubmitter:merge-intent-Merge").click()
    at.run()
    assert not at.exception, at.exception
    jobs = queued_jobs(app_db)
    assert [job["reason"] for job in jobs] == ["label schema changed (boss): intent 'cancel_order' merged into "
                                               "'return_item'"]
    assert "cancel_order" not in jobs[0]["label_schema"]["intents"]


def test_a_refused_rename_queues_nothing(app_db):
    at = signed_in("boss").switch_page("views/admin_schema.py").run()
    at.selectbox(key="rename-old-intent").select("greeting")
    at.text_input(key="rename-new-intent").input("track_order")      # taken: refused by store.labels
    at.button(key="FormSubmitter:rename-intent-Rename").click()
    at.run()
    assert not at.exception, at.exception
    assert queued_jobs(app_db) == []
