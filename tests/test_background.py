"""The owner loop (triggers, ingest), the worker supervisor, `concord serve` wiring and the pipeline page."""
from __future__ import annotations

import argparse
import os
import signal
import time
import uuid
from datetime import timedelta

import pytest

from store import annotations, jobfiles as jf, queue, runs, turns, users
from test_worker import make_store, synthetic_turns, tiny_encoder  # noqa: F401  (the module-scoped fixture)
from workbench import background
from workbench.background import OwnerLoop, Triggers, due_jobs

INTENT_OF = {r["id"]: ["greet", "refund", "track"][int(r["id"][1:]) % 3] for r in synthetic_turns(90, labelled=0)}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCORD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CONCORD_THREADS", "1")
    monkeypatch.delenv(jf.ENV_JOBS, raising=False)
    yield tmp_path
    background.stop_all(timeout=5)


def label_next(db, annotator: str = "ann") -> str:
    turn = queue.claim_next(db, "default", annotator)
    annotations.submit(db, annotation_id=str(uuid.uuid4()), turn_id=turn["turn_id"], project="default",
                       annotator=annotator, intents=[INTENT_OF[turn["turn_id"]]], sentiment="neutral")
    return turn["turn_id"]


def queue_order(db) -> list[str]:
    return [r[0] for r in db.query("SELECT turn_id FROM queue_rank ORDER BY rank")]


# -- triggers --------------------------------------------------------------------------------------------------
def test_triggers_first_run_then_every_n_labels_then_full(db, env):
    make_store(db, env, n=40, labelled=0)
    jobs = env / "jobs"
    triggers = Triggers(every_labels=3, full_every_labels=5, full_every_s=3600)
    assert due_jobs(db, "default", triggers) == [("fast", "first run")]
    runs.write_job(db, jobs, kind="fast")
    assert due_jobs(db, "default", triggers) == []
    for _ in range(2):
        label_next(db)
    assert due_jobs(db, "default", triggers) == []
    label_next(db)
    assert due_jobs(db, "default", triggers) == [("fast", "3 new labels")]
    runs.write_job(db, jobs, kind="fast")
    for _ in range(2):
        label_next(db)
    assert [kind for kind, _ in due_jobs(db, "default", triggers)] == ["full"]
    runs.write_job(db, jobs, kind="full")
    runs.write_job(db, jobs, kind="fast")
    assert due_jobs(db, "default", triggers) == []
    label_next(db)
    assert due_jobs(db, "default", triggers) == []
    later = queue.utcnow() + timedelta(hours=2)
    assert [kind for kind, _ in due_jobs(db, "default", triggers, now=later)] == ["full"]   # hourly, labels changed


def test_triggers_validate_and_read_the_environment():
    with pytest.raises(ValueError, match="every_labels: expected a positive"):
        Triggers(every_labels=0)
    t = Triggers.from_env({"CONCORD_RETRAIN_EVERY": "7", "CONCORD_FULL_EVERY": "70", "CONCORD_ENCODER": "/m",
                           "CONCORD_FULL_BUDGET_S": "300"})
    assert (t.every_labels, t.full_every_labels, t.encoder, t.full_every_s) == (7, 70, "/m", 3600.0)
    assert t.train_options("full") == {"time_budget_s": 300.0} and t.train_options("fast") == {}


# -- the loop with a worker: labelling reorders the queue and changes suggestions ---------------------------------
def test_labelling_triggers_a_retrain_that_reorders_the_queue_and_changes_suggestions(db, env, tiny_encoder):
    from pipeline.worker import Worker

    make_store(db, env, n=45, labelled=0)
    jobs = env / "jobs"
    loop = OwnerLoop(db, jobs, triggers=Triggers(every_labels=6, full_every_labels=10_000, encoder=tiny_encoder))
    worker = Worker(jobs)
    assert len(loop.tick()["written"]) == 1                    # cold start
    assert worker.step() is not None
    assert len(loop.tick()["ingested"]) == 1
    cold_order = queue_order(db)
    assert len(cold_order) == 45 and turns.get_turn(db, cold_order[-1])["suggestion"] is None
    labelled = [label_next(db) for _ in range(6)]
    assert labelled == cold_order[:6]                           # annotators get the precomputed order
    written = loop.tick()["written"]
    assert len(written) == 1 and runs.latest_run(db)["metrics"]["reason"] == "6 new labels"
    assert worker.step() == written[0]
    assert loop.tick()["ingested"] == written
    new_order = queue_order(db)
    assert sorted(new_order) == sorted(set(cold_order) - set(labelled))
    assert new_order != [t for t in cold_order if t not in labelled]
    suggestion = turns.get_turn(db, new_order[0])["suggestion"]
    assert suggestion["source"] == "model v2-fast" and suggestion["intents"][0] in {"greet", "refund", "track"}
    assert loop.tick() == {"recovered": {}, "ingested": [], "written": []}


def test_the_loop_thread_runs_once_per_store_and_ingests_on_its_own(db, env, tiny_encoder):
    from pipeline.worker import Worker

    make_store(db, env, n=30, labelled=12)
    jobs = env / "jobs"
    loop = background.ensure_owner_loop(db, jobs_dir=jobs, triggers=Triggers(poll_s=0.1, encoder=tiny_encoder))
    assert background.ensure_owner_loop(db) is loop and loop.alive
    deadline = time.monotonic() + 30
    while not jf.list_runs(jobs, jf.PENDING) and time.monotonic() < deadline:
        time.sleep(0.1)
    Worker(jobs).step()
    while runs.latest_run(db)["status"] != "done" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runs.latest_run(db)["status"] == "done" and loop.last_error is None
    run_id = background.request_retrain(db, jobs, "default", reason="button")
    assert jf.list_runs(jobs, jf.PENDING) == [run_id]
    background.stop_all(timeout=5)
    assert not loop.alive


# -- the supervisor and `concord serve` ---------------------------------------------------------------------------
def test_supervisor_restarts_a_killed_worker_and_stops_cleanly(env):
    from workbench.supervisor import WorkerSupervisor

    jobs = env / "jobs"
    sup = WorkerSupervisor(jobs, restart_delay_s=0.1, env={**os.environ, "CONCORD_THREADS": "1"}).start()
    try:
        def state_file(pid):
            return jobs / jf.WORKERS / f"{jf.worker_id().rsplit('-', 1)[0]}-{pid}.json"
        first = sup.pid
        _wait(lambda: state_file(first).exists(), 60)
        os.kill(first, signal.SIGKILL)
        _wait(lambda: sup.pid != first and sup.process.poll() is None, 30)
        assert sup.poll() is None and sup.restarts == 1 and sup.exit_codes == [-signal.SIGKILL]
        _wait(lambda: state_file(sup.pid).exists(), 60)     # the new worker is up and watching
    finally:
        sup.terminate()
        sup.wait(timeout=30)
    assert sup.poll() == 0 and sup.process.returncode == 0
    assert "restarting" in (jobs / "worker.log").read_text()


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_serve_starts_a_supervised_worker_unless_told_not_to(env, monkeypatch):
    from workbench import commands_serve
    from workbench.supervisor import WorkerSupervisor

    db_path = env / "x.duckdb"
    assert commands_serve.streamlit_environment(db_path, "default", base={})[jf.ENV_JOBS] == str(env / "x.jobs")
    assert commands_serve.supervise(argparse.Namespace(no_worker=True, db=str(db_path)), None) == []
    started = []
    monkeypatch.setattr(WorkerSupervisor, "start", lambda self: started.append(self) or self)
    helpers = commands_serve.supervise(argparse.Namespace(no_worker=False, db=str(db_path)), None)
    assert helpers == started and helpers[0].jobs_dir == env / "x.jobs"
    assert helpers[0].command[1:4] == ["-m", "pipeline.worker", "--jobs"]


# -- the pipeline page ---------------------------------------------------------------------------------------------
def _page_script():
    """What app.py's navigation does for a module page: the server-side role check, then render."""
    from workbench import auth, runtime
    from workbench.views import pipeline

    db = runtime.get_store(runtime.parse_settings().db_path)
    pipeline.render(db, auth.require_role(db, pipeline.ROLES))


def _page_as(db_path, username: str, role: str):
    from streamlit.testing.v1 import AppTest

    from workbench import auth

    at = AppTest.from_function(_page_script, default_timeout=30)
    now = time.time()
    at.session_state[auth.SESSION_KEY] = {"username": username, "role": role, "signed_in_at": now, "last_seen": now}
    return at.run()


@pytest.fixture
def app_db(env, monkeypatch):
    from workbench import runtime

    path = env / "app.duckdb"
    monkeypatch.setenv(runtime.ENV_DB, str(path))
    db = runtime.get_store(str(path))
    users.add_user(db, "ana", "analyst", "analyst-pass-1")
    users.add_user(db, "ann", "annotator", "annotator-pass-1")
    yield db
    runtime.close_stores()


def test_pipeline_page_shows_state_history_and_queues_a_retrain(app_db, env):
    make_store(app_db, env, n=20, labelled=10)
    jobs = env / "app.jobs"
    done = runs.write_job(app_db, jobs, kind="fast")
    failed = runs.write_job(app_db, jobs, kind="full")
    from test_runs import _publish_result

    _publish_result(jobs, done, [f"t{i:03d}" for i in range(10, 20)])
    _publish_result(jobs, failed, [], status="failed", error="RuntimeError: <b>out of memory</b>")
    runs.ingest_results(app_db, jobs)
    at = _page_as(app_db.path, "ana", "analyst")
    assert not at.exception
    assert "No worker is running" in at.subheader[0].value
    assert any("<b>out of memory</b>" in c.value for c in at.code)        # shown as code, not as HTML
    frame = at.dataframe[0].value
    assert list(frame["status"]) == ["failed", "done"]                    # newest first
    assert frame.loc[frame["status"] == "done", "Held-out intent accuracy"].iloc[0] == 0.5
    at.button(key="pipeline_retrain").click().run()
    assert not at.exception
    pending = [r for r in jf.list_runs(jobs, jf.PENDING) if r not in (done, failed)]
    assert len(pending) == 1 and jf.read_json(jobs / jf.PENDING / pending[0] / jf.SPEC)["reason"] == "on demand (ana)"


def test_pipeline_page_refuses_annotators_on_the_server(app_db, env):
    at = _page_as(app_db.path, "ann", "annotator")
    assert not at.exception
    assert not [b for b in at.button if b.key.startswith("pipeline_")] and len(at.dataframe) == 0
    assert any("analyst" in e.value for e in at.error)


def test_pipeline_render_itself_refuses_a_user_without_the_role(app_db, env):
    from streamlit.testing.v1 import AppTest

    def script():
        from workbench import auth, runtime
        from workbench.views import pipeline

        pipeline.render(runtime.get_store(runtime.parse_settings().db_path), auth.User("ann", "annotator"))
    at = AppTest.from_function(script, default_timeout=30).run()
    assert not at.exception and not at.button and any("analyst" in e.value for e in at.error)


def test_a_worker_whose_supervisor_dies_stops_instead_of_running_orphaned(env):
    import subprocess
    import sys

    from test_worker import REPO

    jobs = env / "jobs"
    script = ("import sys, time; from workbench.supervisor import WorkerSupervisor; "
              f"WorkerSupervisor({str(jobs)!r}).start(); time.sleep(600)")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO), "CONCORD_THREADS": "1"})
    try:
        _wait(lambda: list((jobs / jf.WORKERS).glob("*.json")), 60)
        worker_pid = jf.read_json(next((jobs / jf.WORKERS).glob("*.json")))["pid"]
        parent.kill()
        parent.wait(10)
        _wait(lambda: not jf.pid_alive(worker_pid), 30)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert "is gone; stopping" in (jobs / "worker.log").read_text()
