"""The real multilingual route on the sample data: its Chinese turns (11%, [UNK]-heavy to MiniLM) are routed to
multilingual-e5-small, published as read, and suggested better than MiniLM alone does. Slow: loads e5 (~8 s)
and embeds the labelled turns with it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import pipeline.encoder_choice as encoder_choice
from store import importer, jobfiles as jf, runs

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "dialogs.jsonl"
pytestmark = pytest.mark.slow


def withheld_fold(records: list[dict], fold: int = 0, folds: int = 3) -> set[str]:
    """The labelled turns of a seeded third of the conversations: their labels are withheld from the run."""
    conversations = sorted({r["conversation_id"] for r in records})
    fold_of = dict(zip(conversations, np.random.default_rng(0).permutation(len(conversations)) % folds))
    return {r["id"] for r in records if r.get("intents") and fold_of[r["conversation_id"]] == fold}


def run_sample(db, tmp_path, *, route: bool, monkeypatch) -> tuple[dict, dict, dict, set]:
    from pipeline.worker_job import run_job

    monkeypatch.setattr(encoder_choice, "ROUTE_MIN_TURNS", 5 if route else 10**9)
    records = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    withheld = withheld_fold(records)
    path = tmp_path / f"sample-{route}.jsonl"
    path.write_text("".join(json.dumps(dict(r, intents=[], entities=[], sentiment=None, aligned=None)
                                       if r["id"] in withheld else r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    assert importer.import_files(db, [path], labels="gold").ok
    run_id = runs.write_job(db, tmp_path / f"jobs-{route}", kind="fast")
    run_job(tmp_path / f"jobs-{route}" / jf.PENDING / run_id, tmp_path / f"out-{route}")
    metrics = json.loads((tmp_path / f"out-{route}" / jf.METRICS_FILE).read_text())
    predictions = {p["turn_id"]: p for p in pq.read_table(tmp_path / f"out-{route}" / jf.PREDICTIONS_FILE).to_pylist()}
    truth = {r["id"]: sorted(r["intents"]) for r in records if r["id"] in withheld and r["meta"].get("lang") == "zh"}
    return metrics, predictions, truth, {r["id"] for r in records if r["meta"].get("lang") == "zh"}


def test_the_sample_datas_chinese_turns_are_read_and_suggested_by_the_multilingual_route(db, tmp_path, monkeypatch):
    monkeypatch.setenv("CONCORD_THREADS", "1")   # the default cache stays: e5 is converted there once (~470 MB)
    metrics, predictions, truth, chinese = run_sample(db, tmp_path, route=True, monkeypatch=monkeypatch)
    assert set(metrics["routed_ids"]) == chinese and metrics["encoder_choice"]["routed_encoder"].startswith(
        "multilingual-e5-small@")
    assert all(predictions[t]["encoder_reads"] is True for t in chinese)
    routed = np.mean([sorted(predictions[t]["intents"]) == truth[t] for t in truth])
    with pytest.MonkeyPatch.context() as mp:
        from store import Store

        with Store(tmp_path / "minilm.duckdb") as other:
            _, alone, _, _ = run_sample(other, tmp_path, route=False, monkeypatch=mp)
    assert all(alone[t]["encoder_reads"] is False for t in chinese)
    minilm = np.mean([sorted(alone[t]["intents"]) == truth[t] for t in truth])
    assert routed > minilm, (routed, minilm, len(truth))
