"""The owner's side of the job exchange (store.runs) and the shared folder protocol (store.jobfiles).

No model here: result folders are written by hand in the worker's format, so these tests pin down
what ingestion must do with them (one transaction, keyed by run id, newest ranking wins).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import importer, jobfiles as jf, queue, runs, turns

INTENTS = ["greet", "refund", "track"]


def _turn(i: int, labelled: bool) -> dict:
    record = {"id": f"t{i:03d}", "conversation_id": f"c{i:03d}", "turn_index": 0, "context": [],
              "text": f"turn number {i} about {INTENTS[i % 3]}", "response": "ok"}
    if labelled:
        record.update(intents=[INTENTS[i % 3]], sentiment="neutral")
    return record


@pytest.fixture
def seeded(db, tmp_path):
    """30 turns: the first 12 carry imported gold labels, the other 18 are the pool to label."""
    path = tmp_path / "turns.jsonl"
    path.write_text("".join(json.dumps(_turn(i, i < 12)) + "\n" for i in range(30)), encoding="utf-8")
    report = importer.import_files(db, [path], labels="gold")
    assert report.ok, report
    return db


def _publish_result(jobs, run_id: str, ranked: list[str], *, status: str = "done", error: str | None = None,
                    spec: dict | None = None) -> None:
    """A result folder exactly as the worker writes it (predictions + ranking + metrics + result)."""
    tmp = jf.results_tmp_dir(jobs, run_id, "test-1")
    tmp.mkdir(parents=True)
    if spec is None:
        spec = jf.read_json(jobs / jf.PENDING / run_id / jf.SPEC) or jf.read_json(jobs / jf.RUNNING / run_id / jf.SPEC)
    jf.write_json_atomic(tmp / jf.SPEC, spec)
    if status == "done":
        pq.write_table(pa.table({
            "turn_id": ranked, "intents": [["refund"]] * len(ranked),
            "intent_probs": [json.dumps({"refund": 0.6, "greet": 0.3, "track": 0.1})] * len(ranked),
            "entities": [[]] * len(ranked), "entity_scores": [[]] * len(ranked), "sentiment": ["neutral"] * len(ranked),
            "sentiment_probs": ["{}"] * len(ranked), "alignment_score": [0.5] * len(ranked),
            "misalignment_prob": [0.2] * len(ranked), "uncertainty": [0.4] * len(ranked)}, schema=jf.PREDICTIONS_SCHEMA),
            tmp / jf.PREDICTIONS_FILE)
        pq.write_table(pa.table({"turn_id": ranked, "rank": pa.array(range(len(ranked)), pa.int32()),
                                 "score": [1.0 - i / 100 for i in range(len(ranked))]}, schema=jf.RANKING_SCHEMA),
                       tmp / jf.RANKING_FILE)
        jf.write_json_atomic(tmp / jf.METRICS_FILE, {"holdout": {"intent_accuracy": 0.5}, "n_labels": 12})
    jf.write_json_atomic(tmp / jf.RESULT, {"run_id": run_id, "status": status, "error": error,
                                           "timings": {"total_s": 1.5}})
    assert jf.publish_results(tmp, jobs, run_id)


def _pool_ids(db) -> list[str]:
    return [r[0] for r in db.query("SELECT turn_id FROM turns t WHERE turn_id NOT IN "
                                   "(SELECT turn_id FROM imported_labels) ORDER BY turn_id")]


# -- writing jobs ---------------------------------------------------------------------------------------
def test_write_job_publishes_a_complete_snapshot_and_records_it_queued(seeded, tmp_path):
    jobs = tmp_path / "jobs"
    run_id = runs.write_job(seeded, jobs, kind="fast", reason="test", seed=3, batch_size=7)
    folder = jobs / jf.PENDING / run_id
    assert sorted(p.name for p in folder.iterdir()) == sorted([jf.SPEC, jf.LABELS_FILE, jf.POOL_FILE])
    assert not list((jobs / jf.PENDING).glob("*.tmp"))
    spec = jf.read_json(folder / jf.SPEC)
    assert (spec["kind"], spec["n_labels"], spec["n_pool"], spec["seed"], spec["batch_size"]) == ("fast", 12, 30, 3, 7)
    labels = pq.read_table(folder / jf.LABELS_FILE).to_pylist()
    assert sorted(r["id"] for r in labels) == [f"t{i:03d}" for i in range(12)]
    assert {r["id"]: r["intents"] for r in labels}["t004"] == ["refund"]
    assert pq.read_table(folder / jf.POOL_FILE).num_rows == 30
    row = seeded.query_dicts("SELECT * FROM model_runs WHERE run_id = ?", [run_id])[0]
    assert (row["status"], row["kind"], row["n_labels"], row["snapshot_hash"]) == ("queued", "fast", 12, spec["snapshot_hash"])


def test_snapshot_hash_follows_the_labels_not_their_order(seeded):
    records = runs.label_records(seeded, "default")
    assert runs.snapshot_hash(records) == runs.snapshot_hash(list(reversed(records)))
    changed = [dict(r) for r in records]
    changed[0]["intents"] = ["track"]
    assert runs.snapshot_hash(changed) != runs.snapshot_hash(records)


def test_a_newer_pending_job_supersedes_older_ones_of_its_kind_only(seeded, tmp_path):
    jobs = tmp_path / "jobs"
    first = runs.write_job(seeded, jobs, kind="fast")
    full = runs.write_job(seeded, jobs, kind="full")
    second = runs.write_job(seeded, jobs, kind="fast")
    assert jf.list_runs(jobs, jf.PENDING) == sorted([full, second])
    status = dict(seeded.query("SELECT run_id, status FROM model_runs"))
    assert status == {first: "superseded", full: "queued", second: "queued"}
    assert not (jobs / jf.SUPERSEDED / first).exists()      # recorded, then cleaned up


def test_write_job_rejects_an_unknown_kind(seeded, tmp_path):
    with pytest.raises(ValueError, match="expected one of"):
        runs.write_job(seeded, tmp_path / "jobs", kind="slow")


# -- ingesting results --------------------------------------------------------------------------------------
def test_ingest_writes_run_predictions_and_queue_order_once(seeded, tmp_path):
    jobs = tmp_path / "jobs"
    run_id = runs.write_job(seeded, jobs, kind="fast")
    ranked = list(reversed(_pool_ids(seeded)))
    _publish_result(jobs, run_id, ranked)
    assert runs.ingest_results(seeded, jobs) == [run_id]
    run = runs.latest_run(seeded, "default")
    assert (run["status"], run["model_version"], run["metrics"]["holdout"]["intent_accuracy"]) == ("done", "v1-fast", 0.5)
    assert run["artifact_dir"] is None and run["timings"]["total_s"] == 1.5
    order = [r[0] for r in seeded.query("SELECT turn_id FROM queue_rank ORDER BY rank")]
    assert order == ranked
    claimed = queue.claim_next(seeded, "default", "ann")
    assert claimed["turn_id"] == ranked[0]
    assert claimed["suggestion"]["intents"] == ["refund"] and claimed["suggestion"]["source"] == "model v1-fast"
    before = seeded.query("SELECT count(*) FROM predictions")[0][0]
    assert runs.ingest_results(seeded, jobs) == []                       # a second ingest is a no-op
    assert runs.ingest_one(seeded, jobs / jf.RESULTS / run_id) is False  # ... even when forced
    assert seeded.query("SELECT count(*) FROM predictions")[0][0] == before == len(ranked)
    assert runs.latest_run(seeded, "default")["model_version"] == "v1-fast"


def test_a_failed_run_is_recorded_with_its_error(seeded, tmp_path):
    jobs = tmp_path / "jobs"
    run_id = runs.write_job(seeded, jobs, kind="fast")
    _publish_result(jobs, run_id, [], status="failed", error="ValueError: no labels")
    assert runs.ingest_results(seeded, jobs) == [run_id]
    run = runs.latest_run(seeded, "default")
    assert (run["status"], run["error"]) == ("failed", "ValueError: no labels")
    assert seeded.query("SELECT count(*) FROM queue_rank")[0][0] == 0
    assert runs.worker_state(seeded, jobs)["last"]["error"] == "ValueError: no labels"


def test_results_of_an_older_snapshot_do_not_reorder_a_newer_queue(seeded, tmp_path):
    jobs = tmp_path / "jobs"
    old = runs.write_job(seeded, jobs, kind="full")
    new = runs.write_job(seeded, jobs, kind="fast")
    pool = _pool_ids(seeded)
    _publish_result(jobs, new, pool)
    runs.ingest_results(seeded, jobs)
    _publish_result(jobs, old, list(reversed(pool)))
    runs.ingest_results(seeded, jobs)
    assert [r[0] for r in seeded.query("SELECT turn_id FROM queue_rank ORDER BY rank")] == pool
    assert {r["run_id"]: r["status"] for r in runs.run_history(seeded)} == {old: "done", new: "done"}
    assert seeded.query("SELECT count(DISTINCT run_id) FROM predictions")[0][0] == 2


def test_old_predictions_are_pruned_but_the_queue_run_keeps_its_own(seeded, tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "KEEP_PREDICTION_RUNS", 2)
    jobs = tmp_path / "jobs"
    ids = []
    for _ in range(4):
        run_id = runs.write_job(seeded, jobs, kind="fast")
        _publish_result(jobs, run_id, _pool_ids(seeded))
        runs.ingest_results(seeded, jobs)
        ids.append(run_id)
    kept = {r[0] for r in seeded.query("SELECT DISTINCT run_id FROM predictions")}
    assert kept == set(ids[-2:])


def test_ingest_records_a_run_the_database_never_saw(seeded, tmp_path):
    """A job written by another owner process (or before a crash lost the queued row) still ingests."""
    jobs = jf.ensure_layout(tmp_path / "jobs")
    run_id = jf.new_run_id("fast")
    _publish_result(jobs, run_id, _pool_ids(seeded), spec={"project": "default", "kind": "fast", "n_labels": 12,
                                                            "snapshot_hash": "abc"})
    assert runs.ingest_results(seeded, jobs) == [run_id]
    assert runs.latest_run(seeded)["snapshot_hash"] == "abc"


# -- the folder protocol --------------------------------------------------------------------------------------
def test_claim_takes_the_newest_fast_job_first_and_supersedes_older_ones(tmp_path):
    jobs = jf.ensure_layout(tmp_path / "jobs")
    made = []
    for kind in ("full", "fast", "fast"):
        run_id = jf.new_run_id(kind)
        (jobs / jf.PENDING / run_id).mkdir()
        jf.write_json_atomic(jobs / jf.PENDING / run_id / jf.SPEC, {"project": "p", "kind": kind})
        made.append(run_id)
        time.sleep(0.001)
    claimed = jf.claim_next(jobs, worker="w1")
    assert claimed.name == made[2]
    assert jf.list_runs(jobs, jf.SUPERSEDED) == [made[1]]
    assert jf.claim_next(jobs, worker="w1").name == made[0]
    assert jf.claim_next(jobs, worker="w1") is None
    assert jf.read_json(claimed / jf.CLAIM)["worker"] == "w1" and jf.read_text(claimed / jf.ATTEMPTS) == "1"


def test_concurrent_claims_hand_a_job_to_exactly_one_worker(tmp_path):
    jobs = jf.ensure_layout(tmp_path / "jobs")
    run_id = jf.new_run_id("fast")
    (jobs / jf.PENDING / run_id).mkdir()
    jf.write_json_atomic(jobs / jf.PENDING / run_id / jf.SPEC, {"project": "p"})
    results, barrier = [], threading.Barrier(8)

    def claim(i):
        barrier.wait()
        results.append(jf.claim_next(jobs, worker=f"w{i}"))
    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1


def _running(jobs, *, pid: int, age_s: float, attempts: int = 1):
    run_id = jf.new_run_id("fast")
    folder = jobs / jf.RUNNING / run_id
    folder.mkdir(parents=True)
    jf.write_json_atomic(folder / jf.SPEC, {"project": "default", "kind": "fast"})
    (folder / jf.ATTEMPTS).write_text(str(attempts))
    jf.write_json_atomic(folder / jf.CLAIM, {"worker": f"x-{pid}", "claimed_at": time.time() - age_s})
    jf.write_json_atomic(folder / jf.HEARTBEAT, {"worker": f"x-{pid}", "pid": pid, "host": "elsewhere",
                                                 "at": time.time() - age_s})
    return run_id


def test_stale_jobs_are_requeued_fresh_ones_left_alone(tmp_path):
    jobs = jf.ensure_layout(tmp_path / "jobs")
    stale = _running(jobs, pid=1, age_s=100)
    fresh = _running(jobs, pid=1, age_s=1)
    assert jf.requeue_stale(jobs, stale_after_s=30) == {stale: "requeued"}
    assert jf.list_runs(jobs, jf.PENDING) == [stale] and jf.list_runs(jobs, jf.RUNNING) == [fresh]
    assert not (jobs / jf.PENDING / stale / jf.CLAIM).exists()
    assert jf.claim_next(jobs, worker="w2").name == stale
    assert jf.read_text(jobs / jf.RUNNING / stale / jf.ATTEMPTS) == "2"


def test_a_dead_local_worker_is_noticed_without_waiting_for_the_timeout(tmp_path):
    jobs = jf.ensure_layout(tmp_path / "jobs")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    run_id = _running(jobs, pid=child.pid, age_s=0)
    beat = jf.read_json(jobs / jf.RUNNING / run_id / jf.HEARTBEAT)
    jf.write_json_atomic(jobs / jf.RUNNING / run_id / jf.HEARTBEAT, {**beat, "host": jf.socket.gethostname()})
    assert jf.requeue_stale(jobs, stale_after_s=3600) == {run_id: "requeued"}
    alive = _running(jobs, pid=os.getpid(), age_s=0)
    beat = jf.read_json(jobs / jf.RUNNING / alive / jf.HEARTBEAT)
    jf.write_json_atomic(jobs / jf.RUNNING / alive / jf.HEARTBEAT, {**beat, "host": jf.socket.gethostname()})
    assert jf.requeue_stale(jobs, stale_after_s=3600) == {}


def test_a_job_that_keeps_killing_workers_is_failed_and_ingested_as_failed(seeded, tmp_path):
    jobs = jf.ensure_layout(tmp_path / "jobs")
    run_id = _running(jobs, pid=1, age_s=100, attempts=jf.MAX_ATTEMPTS)
    assert jf.requeue_stale(jobs, stale_after_s=30) == {run_id: "failed"}
    assert runs.ingest_results(seeded, jobs) == [run_id]
    assert "died 3 times" in runs.latest_run(seeded)["error"]


def test_a_worker_that_died_after_publishing_is_not_redone(tmp_path):
    jobs = jf.ensure_layout(tmp_path / "jobs")
    run_id = _running(jobs, pid=1, age_s=100)
    (jobs / jf.RESULTS / run_id).mkdir()
    assert jf.requeue_stale(jobs, stale_after_s=30) == {run_id: "finished"}
    assert jf.list_runs(jobs, jf.PENDING) == [] and jf.list_runs(jobs, jf.RUNNING) == []


def test_publishing_twice_keeps_the_first_copy(tmp_path):
    jobs = jf.ensure_layout(tmp_path / "jobs")
    for worker, text in (("a-1", "first"), ("b-2", "second")):
        tmp = jf.results_tmp_dir(jobs, "r1", worker)
        tmp.mkdir()
        (tmp / "x").write_text(text)
        jf.publish_results(tmp, jobs, "r1")
    assert (jobs / jf.RESULTS / "r1" / "x").read_text() == "first"
    assert not list((jobs / jf.RESULTS).glob("*.tmp"))


def test_worker_state_reads_training_progress_and_offline(seeded, tmp_path):
    jobs = jf.ensure_layout(tmp_path / "jobs")
    assert runs.worker_state(seeded, jobs)["state"] == "offline"
    runs.write_job(seeded, jobs, kind="fast")
    jf.write_worker_state(jobs, "w-1", state="idle")
    assert runs.worker_state(seeded, jobs)["state"] == "queued"
    running = jf.claim_next(jobs, worker="w-1")
    jf.beat(running, "w-1", stage="training", progress=0.4)
    state = runs.worker_state(seeded, jobs)
    assert state["state"] == "training"
    assert (state["running"][0]["stage"], state["running"][0]["progress"]) == ("training", 0.4)
    assert runs.sync_job_states(seeded, jobs) == {running.name: "running"}
    assert turns.count_turns(seeded) == 30


def test_worker_state_says_which_attempt_a_taken_over_run_is(seeded, tmp_path):
    """A worker killed mid-run: the supervisor's next worker takes the run over (attempt 2). The Pipeline
    page only showed the stage fall back from training; the attempt is what tells it was a retry."""
    import time

    jobs = jf.ensure_layout(tmp_path / "jobs")
    runs.write_job(seeded, jobs, kind="fast")
    first = jf.claim_next(jobs, worker="w-1")
    jf.beat(first, "w-1", stage="training", progress=0.4)
    assert runs.worker_state(seeded, jobs)["running"][0]["attempt"] == 1
    assert jf.requeue_stale(jobs, now=time.time() + 10 * jf.STALE_AFTER_S) == {first.name: "requeued"}  # w-1 died
    jf.claim_next(jobs, worker="w-2")
    assert runs.worker_state(seeded, jobs)["running"][0]["attempt"] == 2
