"""The Pipeline page does not call the model up to date when labels changed since its last run: the
worker retrains only every ``every_labels`` labels (20 by default), so an idle worker with 5 new labels
is waiting, not done. The page says how many changed and when the next run starts."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from app_testkit import make_template, open_copy, texts
from store import annotations, jobfiles
from workbench import background, runtime
from test_pipeline_refresh import page_as_analyst

UP_TO_DATE = "Idle: the model is up to date"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("pipeline-review"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    db = open_copy(template, tmp_path, monkeypatch)
    jobs = jobfiles.ensure_layout(jobfiles.default_jobs_dir(db.path))
    jobfiles.write_worker_state(jobs, "w-1", state="idle")          # a live worker, no job: "idle"
    now = datetime.now(timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    db.write(lambda con: con.execute(
        "INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
        " created_at, finished_at) VALUES ('run-7', 'default', 'fast', 'done', 'v7', 3, ?, '{}', ?, ?)",
        [json.dumps({"holdout": {"n": 1, "intent_accuracy": 1.0}}), now, now]))
    yield db
    runtime.close_stores()


def shown(at) -> str:
    """The page's text, its state subheader included (``texts`` leaves subheaders out)."""
    return "\n".join([*(s.value for s in at.subheader), texts(at)])


def label(db, n: int) -> None:
    for i in range(n):
        annotations.submit(db, annotation_id=f"new-{i}", turn_id="t-en", project="default", annotator="ann",
                           intents=["track_order"], sentiment="neutral", duration_ms=2000)


def test_idle_with_nothing_new_is_up_to_date(app_db):
    at = page_as_analyst()
    assert not at.exception, at.exception
    assert UP_TO_DATE in shown(at) and "since run" not in shown(at)


def test_idle_with_new_labels_says_how_many_and_when_the_next_run_starts(app_db, monkeypatch):
    label(app_db, 5)
    at = page_as_analyst()
    assert not at.exception, at.exception
    page = shown(at)
    assert UP_TO_DATE not in page and "Idle: labels changed since the last run" in page
    assert ("5 labelling action(s) (submits, edits, undos, fixes) since run v7; "
            "background retraining is off in this process: press Retrain now to train on them.") in page
    loop = background.OwnerLoop(app_db, jobfiles.default_jobs_dir(app_db.path), "default",
                                background.Triggers(every_labels=20))           # registered, not started
    monkeypatch.setitem(background._loops, background._key(app_db, "default"), loop)
    at = page_as_analyst()
    assert ("5 labelling action(s) (submits, edits, undos, fixes) since run v7; "
            "the next run starts at 20 (15 more to go), or press Retrain now.") in shown(at)
    assert at.button(key="pipeline_retrain")                                    # the button the line names


def test_a_run_taken_over_after_its_worker_died_says_which_attempt_it_is(app_db):
    import time

    from store import runs

    jobs = jobfiles.default_jobs_dir(app_db.path)
    runs.write_job(app_db, jobs, kind="fast")
    first = jobfiles.claim_next(jobs, worker="w-1")
    jobfiles.requeue_stale(jobs, now=time.time() + 10 * jobfiles.STALE_AFTER_S)      # w-1 was killed mid-run
    jobfiles.beat(jobfiles.claim_next(jobs, worker="w-2"), "w-2", stage="training", progress=0.2)
    at = page_as_analyst()
    assert not at.exception, at.exception
    assert (f"Attempt 2 of {jobfiles.MAX_ATTEMPTS}: the worker running it stopped (killed or crashed), "
            "and a new one took the run over from the start.") in shown(at)
    assert first.name in shown(at)
