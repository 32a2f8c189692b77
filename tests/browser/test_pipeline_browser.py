"""`concord serve` runs the app and the worker together, in a real browser.

Labelling three turns triggers a retrain; the worker is SIGKILLed in the middle of that training;
the annotator keeps labelling meanwhile; the supervisor restarts the worker, the job is redone and
ingested exactly once, after which the queue order and the suggestions shown have changed. The
encoder is a tiny from-scratch one (CONCORD_ENCODER), so no packaged model is needed.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import serving
from serving import CHROMIUM, CHROMIUM_ARGS, require_chromium, screenshot, wait_until

from store import jobfiles as jf

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]

PASSWORD = "pipeline-pass-1"


def build(tmp: Path) -> tuple[Path, Path]:
    """A store with the sample dialogs (no labels, no suggestions) and a tiny encoder trained on them."""
    from pipeline.tiny import build_tiny_encoder
    from store import Store, importer, labels, users

    db_path = tmp / "served.duckdb"
    texts = [json.loads(line)["text"] for line in (REPO / "sample_data" / "dialogs.jsonl").read_text().splitlines()]
    encoder = build_tiny_encoder(texts, tmp / "encoder", hidden=32, layers=1, heads=2)
    with Store(db_path) as db:
        labels.create_project(db, "default")
        labels.load_schema_yaml(db, "default", REPO / "sample_data" / "schema.yaml")
        assert importer.import_files(db, [REPO / "sample_data" / "dialogs.jsonl"], labels="ignore").ok
        users.add_user(db, "pipe", "annotator", PASSWORD)
    return db_path, encoder


def current_text(page) -> str:
    return page.locator(".cc-text").inner_text()


def label_one(page, key: str) -> str:
    """Pick an intent by its number key, a sentiment (W) and the response fit (G: every sample turn
    shows a response), which a submit needs, and submit; returns the text of the turn that was labelled."""
    text, form = current_text(page), page.locator(".cc-root").get_attribute("data-form-id")
    page.locator(".cc-text").click()                   # focus the turn (keys go to the page from there)
    for choice in (key, "w", "g"):
        page.keyboard.press(choice)
        page.wait_for_timeout(200)
    page.keyboard.press("Enter")
    roots = page.locator(".cc-root")                  # (inside the component's shadow root: poll by locator)
    def moved_on():
        ids = roots.evaluate_all("els => els.map(e => e.dataset.formId)")
        return len(ids) == 1 and ids[0] != form
    wait_until(moved_on, 30, "the next turn")
    page.wait_for_timeout(300)
    return text


def test_serve_retrains_while_labelling_and_survives_a_worker_sigkill(tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    db_path, encoder = build(tmp_path)
    jobs = tmp_path / "served.jobs"
    env = {**os.environ, "CONCORD_ENCODER": str(encoder), "CONCORD_RETRAIN_EVERY": "3", "CONCORD_CACHE": str(tmp_path / "cache"),
           "CONCORD_THREADS": "1", "CONCORD_BACKGROUND_POLL_S": "0.5", "CONCORD_WORKER_PAUSE_AT": "training",
           "CONCORD_WORKER_PAUSE_S": "120", "PYTHONPATH": str(REPO)}
    env.pop(jf.ENV_JOBS, None)
    with serving.served(db_path, tmp_path, worker=True, env=env) as app, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        page.goto(app["url"])       # the first visit starts the app's owner loop
        # The cold-start run (no labels yet: a diverse first batch) is ingested before anyone labels.
        wait_until(lambda: len(jf.list_runs(jobs, jf.RESULTS)) == 1, 180, "the cold-start run")
        cold = jf.list_runs(jobs, jf.RESULTS)[0]
        time.sleep(2)
        serving.sign_in(page, "pipe", PASSWORD)
        expect(page.locator(".cc-text")).to_be_visible(timeout=30_000)
        screenshot(page, "pipeline-first-turn")
        labelled = [label_one(page, key) for key in ("1", "2", "3")]   # three intents -> a fast retrain
        wait_until(lambda: (jobs / "faults" / "training").exists(), 180, "the worker to start training")
        victim = int((jobs / "faults" / "training").read_text())
        os.kill(victim, signal.SIGKILL)                                 # mid-training
        killed_at = time.monotonic()
        labelled.append(label_one(page, "1"))                           # the app keeps serving meanwhile
        wait_until(lambda: len(jf.list_runs(jobs, jf.RESULTS)) == 2, 180, "the redone run to be published")
        recovery_s = time.monotonic() - killed_at
        time.sleep(3)                                                   # the owner loop ingests (0.5 s poll)
        labelled.append(label_one(page, "2"))
        expect(page.get_by_text("Suggestion from model v2-fast")).to_be_visible(timeout=30_000)
        shown_after = current_text(page)
        screenshot(page, "pipeline-after-retrain")
        browser.close()
    print(f"worker recovery after SIGKILL (restart + redo + publish): {recovery_s:.1f} s")
    fast = [r for r in jf.list_runs(jobs, jf.RESULTS) if r != cold][0]
    assert jf.read_json(jobs / jf.RESULTS / fast / jf.RESULT)["attempt"] == 2
    from store import Store

    with Store(db_path) as db:
        runs_ = db.query_dicts("SELECT run_id, status, kind, n_labels FROM model_runs ORDER BY created_at")
        assert [(r["run_id"], r["status"]) for r in runs_] == [(cold, "done"), (fast, "done")]
        assert db.query_one("SELECT count(DISTINCT run_id) FROM predictions")[0] == 1
        assert db.query_one("SELECT count(*) FROM predictions WHERE run_id = ?", [fast])[0] == 342
        assert db.query_one("SELECT count(*) FROM annotations WHERE action = 'submit'")[0] == 5
        new_order = [r[0] for r in db.query("SELECT turn_id FROM queue_rank ORDER BY rank")]
        assert db.query_one("SELECT DISTINCT run_id FROM queue_rank")[0] == fast
        texts = dict(db.query("SELECT turn_id, text FROM turns"))
    import pyarrow.parquet as pq

    cold_order = pq.read_table(jobs / jf.RESULTS / cold / jf.RANKING_FILE).column("turn_id").to_pylist()
    assert [texts[t] for t in cold_order[:3]] == labelled[:3]           # annotators got the cold-start order
    assert new_order != [t for t in cold_order if t in set(new_order)]  # the retrain reordered the queue
    first_open = next(t for t in new_order if texts[t] not in labelled)
    assert shown_after == texts[first_open]                            # ... and serving follows the new order
