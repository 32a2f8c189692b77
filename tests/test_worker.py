"""The background worker: one job end to end on a tiny from-scratch encoder, failures, stop requests,
and a real worker process SIGKILLed mid-training whose job is redone and ingested exactly once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from store import importer, jobfiles as jf, runs

REPO = Path(__file__).resolve().parents[1]
WORDS = {"refund": ["refund", "money", "back", "return"], "track": ["where", "parcel", "tracking", "shipped"],
         "greet": ["hello", "hi", "morning", "there"]}


def synthetic_turns(n: int, *, labelled: int, seed: int = 0) -> list[dict]:
    """``n`` turns over three intents with their own words; the first ``labelled`` carry gold labels."""
    rng = np.random.default_rng(seed)
    names = sorted(WORDS)
    records = []
    for i in range(n):
        intent = names[i % 3]
        words = list(rng.choice(WORDS[intent], size=3)) + list(rng.choice(["please", "now", "today", "ok"], size=2))
        record = {"id": f"t{i:03d}", "conversation_id": f"c{i:03d}", "turn_index": 0, "context": [],
                  "text": " ".join(words), "response": "sure"}
        if i < labelled:
            record.update(intents=[intent], sentiment=["negative", "neutral"][i % 2])
        records.append(record)
    return records


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    from pipeline.tiny import build_tiny_encoder

    root = tmp_path_factory.mktemp("tiny")
    texts = [r["text"] for r in synthetic_turns(90, labelled=0)]
    return str(build_tiny_encoder(texts, root / "encoder", hidden=32, layers=1, heads=2))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCORD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CONCORD_THREADS", "1")
    return tmp_path


def make_store(db, tmp_path, *, n=60, labelled=30):
    path = tmp_path / "turns.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in synthetic_turns(n, labelled=labelled)), encoding="utf-8")
    assert importer.import_files(db, [path], labels="gold").ok
    return db


# -- one job, in process ------------------------------------------------------------------------------------
def test_run_job_trains_evaluates_scores_and_ranks_the_unlabelled_pool(db, env, tiny_encoder):
    from pipeline.worker_job import run_job

    make_store(db, env, n=60, labelled=30)
    run_id = runs.write_job(db, env / "jobs", kind="fast", encoder=tiny_encoder, batch_size=5)
    stages = []
    result = run_job(env / "jobs" / jf.PENDING / run_id, env / "out", checkpoint=lambda s, p: stages.append(s))
    assert result["status"] == "done" and not result["cold_start"]
    assert stages[:3] == ["loaded", "train_start", "training"] and stages[-1] == "results_written"
    assert {"trained", "evaluated", "refitted", "scored", "ranked"} <= set(stages)
    predictions = pq.read_table(env / "out" / jf.PREDICTIONS_FILE).to_pylist()
    assert len(predictions) == 60
    assert all(json.loads(p["intent_probs"]).keys() == {"greet", "refund", "track"} for p in predictions)
    ranking = pq.read_table(env / "out" / jf.RANKING_FILE).to_pylist()
    assert sorted(r["turn_id"] for r in ranking) == [f"t{i:03d}" for i in range(30, 60)]
    assert [r["rank"] for r in ranking] == list(range(30))
    metrics = json.loads((env / "out" / jf.METRICS_FILE).read_text())
    assert metrics["n_labels"] == 30 and metrics["n_train"] + metrics["n_holdout"] == 30 and metrics["n_holdout"] > 0
    assert metrics["holdout"]["n"] == metrics["n_holdout"] and 0 <= metrics["holdout"]["intent_accuracy"] <= 1
    assert metrics["snapshot_hash"] == jf.read_json(env / "jobs" / jf.PENDING / run_id / jf.SPEC)["snapshot_hash"]
    embeddings = np.load(env / "out" / "embeddings.npz")
    assert embeddings["vectors"].shape == (60, 32) and list(embeddings["ids"][:2]) == ["t000", "t001"]
    assert (env / "out" / jf.MODEL_DIR).is_dir()
    assert {"load_s", "train_s", "evaluate_s", "refit_s", "score_s", "rank_s", "write_s", "total_s"} <= set(result["timings"])


def test_ranking_sees_the_labelled_turns_embeddings(db, env, tiny_encoder, monkeypatch):
    """The default strategy (local_margin) discounts uncertain rows near labelled turns: the worker must
    hand it the labelled pool turns' embeddings, or it silently falls back to plain margin."""
    import pipeline.active as active
    from pipeline.worker_job import run_job

    calls, original = [], active.rank_pool
    monkeypatch.setattr(active, "rank_pool", lambda *a, **kw: calls.append(kw) or original(*a, **kw))
    make_store(db, env, n=60, labelled=30)
    run_id = runs.write_job(db, env / "jobs", kind="fast", encoder=tiny_encoder, batch_size=5)
    run_job(env / "jobs" / jf.PENDING / run_id, env / "out")
    (kw,) = calls
    assert kw["labeled_embeddings"].shape == (30, 32) and kw["embeddings"].shape == (30, 32)


def test_cold_start_without_labels_ranks_the_pool_by_diversity(db, env, tiny_encoder):
    from pipeline.worker_job import run_job

    make_store(db, env, n=30, labelled=0)
    run_id = runs.write_job(db, env / "jobs", kind="fast", encoder=tiny_encoder, batch_size=6)
    result = run_job(env / "jobs" / jf.PENDING / run_id, env / "out")
    assert result["cold_start"]
    assert pq.read_table(env / "out" / jf.PREDICTIONS_FILE).num_rows == 0
    ranking = pq.read_table(env / "out" / jf.RANKING_FILE).column("turn_id").to_pylist()
    assert sorted(ranking) == [f"t{i:03d}" for i in range(30)]
    head_intents = {int(t[1:]) % 3 for t in ranking[:6]}
    assert len(head_intents) >= 2          # a diverse first batch, not six copies of one kind of turn
    assert not (env / "out" / jf.MODEL_DIR).exists()


def test_holdout_slice_is_stable_as_labels_grow():
    from pipeline.worker_job import holdout_split

    records = [{"id": f"x{i}"} for i in range(200)]
    _, held_small = holdout_split(records[:100])
    _, held_big = holdout_split(records)
    assert {r["id"] for r in held_small} <= {r["id"] for r in held_big}
    assert 0.1 < len(held_big) / 200 < 0.3
    assert holdout_split(records[:10]) == (records[:10], [])
    with pytest.raises(ValueError, match="expected a value in"):
        holdout_split(records, fraction=1.5)


# -- the worker loop, in process --------------------------------------------------------------------------------
def test_worker_step_publishes_and_owner_ingests(db, env, tiny_encoder):
    from pipeline.worker import Worker

    make_store(db, env, n=40, labelled=20)
    run_id = runs.write_job(db, env / "jobs", kind="fast", encoder=tiny_encoder)
    worker = Worker(env / "jobs")
    assert worker.step() == run_id
    assert jf.list_runs(env / "jobs", jf.RUNNING) == [] and jf.list_runs(env / "jobs", jf.RESULTS) == [run_id]
    assert worker.step() is None
    assert runs.ingest_results(db, env / "jobs") == [run_id]
    run = runs.latest_run(db)
    assert run["status"] == "done" and run["metrics"]["n_labels"] == 20
    assert db.query_one("SELECT count(*) FROM queue_rank")[0] == 20


def test_a_failing_job_is_published_as_failed_with_its_error(db, env):
    from pipeline.worker import Worker

    make_store(db, env, n=40, labelled=20)
    runs.write_job(db, env / "jobs", kind="fast", encoder=str(env / "no-such-encoder"))
    Worker(env / "jobs").step()
    assert jf.list_runs(env / "jobs", jf.RUNNING) == []
    runs.ingest_results(db, env / "jobs")
    run = runs.latest_run(db)
    assert run["status"] == "failed" and "no-such-encoder" in run["error"]


# -- real processes --------------------------------------------------------------------------------------------
def start_worker(jobs: Path, env_extra: dict) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": str(REPO), **env_extra}
    return subprocess.Popen([sys.executable, "-m", "pipeline.worker", "--jobs", str(jobs), "--poll", "0.2",
                             "--heartbeat", "0.5", "--stale-after", "5"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"worker exited ({proc.returncode}) before {what}: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_sigkill_mid_training_then_restart_redoes_the_job_and_ingests_it_once(db, env, tiny_encoder):
    make_store(db, env, n=40, labelled=20)
    jobs = env / "jobs"
    run_id = runs.write_job(db, jobs, kind="fast", encoder=tiny_encoder)
    child_env = {"CONCORD_CACHE": str(env / "cache"), "CONCORD_THREADS": "1"}
    first = start_worker(jobs, {**child_env, "CONCORD_WORKER_PAUSE_AT": "training", "CONCORD_WORKER_PAUSE_S": "120"})
    try:
        wait_for(lambda: (jobs / "faults" / "training").exists(), 120, "the worker to reach training", first)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert jf.list_runs(jobs, jf.RUNNING) == [run_id] and jf.list_runs(jobs, jf.RESULTS) == []
    assert runs.ingest_results(db, jobs) == []               # nothing half-done is visible to the owner
    killed_at = time.monotonic()
    second = start_worker(jobs, child_env)
    try:
        wait_for(lambda: jf.list_runs(jobs, jf.RESULTS) == [run_id], 120, "the job to be redone", second)
        recovery_s = time.monotonic() - killed_at
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert second.returncode == 0
    result = jf.read_json(jobs / jf.RESULTS / run_id / jf.RESULT)
    assert result["status"] == "done" and result["attempt"] == 2
    assert jf.list_runs(jobs, jf.RUNNING) == [] and jf.list_runs(jobs, jf.PENDING) == []
    assert runs.ingest_results(db, jobs) == [run_id]
    assert runs.ingest_results(db, jobs) == []
    assert db.query_one("SELECT count(*), count(DISTINCT run_id) FROM predictions") == (40, 1)
    assert db.query_one("SELECT count(*) FROM model_runs WHERE status = 'done'")[0] == 1
    print(f"recovery after SIGKILL: {recovery_s:.1f} s (new worker start + redo)")


def test_sigterm_gives_the_job_back_unfinished(db, env, tiny_encoder):
    make_store(db, env, n=40, labelled=20)
    jobs = env / "jobs"
    run_id = runs.write_job(db, jobs, kind="fast", encoder=tiny_encoder)
    proc = start_worker(jobs, {"CONCORD_CACHE": str(env / "cache"), "CONCORD_THREADS": "1",
                               "CONCORD_WORKER_PAUSE_AT": "loaded", "CONCORD_WORKER_PAUSE_S": "120"})
    try:
        wait_for(lambda: (jobs / "faults" / "loaded").exists(), 60, "the worker to load the job", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert jf.list_runs(jobs, jf.PENDING) == [run_id] and jf.list_runs(jobs, jf.RUNNING) == []
    assert jf.read_text(jobs / jf.PENDING / run_id / jf.ATTEMPTS) == "0"
    assert not list((jobs / jf.RESULTS).iterdir())
    assert not list((jobs / jf.WORKERS).glob("*.json"))


@pytest.mark.slow
@pytest.mark.parametrize("point", ["claimed", "loaded", "training", "trained", "scored", "ranked", "writing",
                                   "results_written", "published", "released"])
def test_sigkill_at_each_point_ingests_the_run_fully_exactly_once(db, env, tiny_encoder, point):
    """Killed anywhere -- before, while and after writing and renaming the results -- the run is
    ingested fully or not at all, then redone (or, once published, just cleaned up) and ingested once."""
    make_store(db, env, n=40, labelled=20)
    jobs = env / "jobs"
    run_id = runs.write_job(db, jobs, kind="fast", encoder=tiny_encoder)
    child_env = {"CONCORD_CACHE": str(env / "cache"), "CONCORD_THREADS": "1"}
    first = start_worker(jobs, {**child_env, "CONCORD_WORKER_PAUSE_AT": point, "CONCORD_WORKER_PAUSE_S": "120"})
    try:
        wait_for(lambda: (jobs / "faults" / point).exists(), 120, f"the worker to reach {point}", first)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    ingested = runs.ingest_results(db, jobs)
    assert ingested in ([], [run_id])
    if ingested:
        assert db.query_one("SELECT count(*) FROM predictions")[0] == 40      # all of it, never part
    else:
        assert db.query_one("SELECT count(*) FROM predictions")[0] == 0
    restarted = time.monotonic()
    second = start_worker(jobs, child_env)
    try:
        wait_for(lambda: not jf.list_runs(jobs, jf.RUNNING) and not jf.list_runs(jobs, jf.PENDING)
                 and jf.list_runs(jobs, jf.RESULTS) == [run_id], 120, "recovery", second)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    from tests.reliability.figures import report

    report(f"worker_sigkill_at_{point}", recovery_s=round(time.monotonic() - restarted, 1),
           ingested_before_restart=bool(ingested))
    assert runs.ingest_results(db, jobs) == ([] if ingested else [run_id])
    assert db.query_one("SELECT count(*), count(DISTINCT run_id) FROM predictions") == (40, 1)
    assert db.query_one("SELECT count(*) FROM model_runs WHERE status = 'done'")[0] == 1
    assert not list((jobs / jf.RESULTS).glob("*.tmp"))


def test_a_full_job_fine_tunes_and_reports_honest_held_out_scores(db, env, tiny_encoder):
    from pipeline.worker_job import run_job

    make_store(db, env, n=50, labelled=40)
    run_id = runs.write_job(db, env / "jobs", kind="full", encoder=tiny_encoder,
                            train_options={"max_epochs": 1, "time_budget_s": 60})
    result = run_job(env / "jobs" / jf.PENDING / run_id, env / "out")
    metrics = json.loads((env / "out" / jf.METRICS_FILE).read_text())
    assert result["status"] == "done" and metrics["kind"] == "full"
    assert metrics["holdout_use"] == "none" and metrics["holdout"]["n"] == metrics["n_holdout"] > 0
    assert len(set(metrics["holdout_ids"])) == metrics["n_holdout"]  # the deployed model never saw these turns
    assert "refit_s" not in result["timings"]                       # a fine-tune is not run twice
    assert any((env / "out" / jf.MODEL_DIR).rglob("config.json"))   # the fine-tuned encoder is saved with it
    assert pq.read_table(env / "out" / jf.PREDICTIONS_FILE).num_rows == 50


# -- honest held-out rows ----------------------------------------------------------------------------------------
def test_fast_run_publishes_held_out_rows_from_the_model_that_never_saw_them(db, env, tiny_encoder):
    """The extractor is refit on every label after evaluation; the held-out turns' published rows must be the
    pre-refit model's (retrained here independently), not the deployed one's, and the store must scope to them."""
    from pipeline.encoders import load_encoder
    from pipeline.model import ConcordModel
    from pipeline.worker_job import holdout_split, read_records, run_job
    from store import analysis

    make_store(db, env, n=60, labelled=40)
    jobs = env / "jobs"
    run_id = runs.write_job(db, jobs, kind="fast", encoder=tiny_encoder, batch_size=5)
    job = jobs / jf.PENDING / run_id
    run_job(job, env / "out")
    metrics = json.loads((env / "out" / jf.METRICS_FILE).read_text())
    labels, pool = read_records(job / jf.LABELS_FILE), read_records(job / jf.POOL_FILE)
    train, holdout = holdout_split(labels, seed=0)
    assert sorted(metrics["holdout_ids"]) == sorted(r["id"] for r in holdout)
    assert len(holdout) == metrics["n_holdout"] > 0

    held_pool = [r for r in pool if r["id"] in set(metrics["holdout_ids"])]
    before = ConcordModel.train(train, mode="fast", encoder=load_encoder(tiny_encoder), valid=holdout, seed=0)
    deployed = ConcordModel.load(env / "out" / jf.MODEL_DIR)
    published = {p["turn_id"]: json.loads(p["intent_probs"])
                 for p in pq.read_table(env / "out" / jf.PREDICTIONS_FILE).to_pylist()}
    gaps_before, gaps_deployed = [], []
    for record, b, d in zip(held_pool, before.predict(held_pool), deployed.predict(held_pool)):
        got = published[record["id"]]
        gaps_before += [abs(got[c] - b["intent_probs"][c]) for c in b["intent_probs"]]
        gaps_deployed += [abs(got[c] - d["intent_probs"].get(c, 0.0)) for c in got]
    assert max(gaps_before) < 1e-5                 # exactly the held-out model's rows ...
    assert max(gaps_deployed) > 1e-4               # ... which differ from what the refit model says

    jf.publish_results(env / "out", jobs, run_id)
    assert runs.ingest_results(db, jobs) == [run_id]
    health = analysis.confusion(db)
    assert health["scope"] == "held-out" and health["n"] == len(holdout)
    gold = {r["id"]: r["intents"][0] for r in holdout}
    correct = sum(max(published[t], key=published[t].get) == g for t, g in gold.items())
    assert sum(health["matrix"][i][i] for i in range(len(health["labels"]))) == correct

