"""A run that keeps the packaged English MiniLM routes the turns it cannot read (mostly [UNK], e.g. Chinese) to
a second, multilingual fast extractor trained on the same labels: those turns get that model's suggestions and
are published as read (``encoder_reads`` True), and the run says how many were routed. Without enough
unreadable turns nothing is loaded; a route encoder that cannot be loaded leaves the run as it was.

The route encoder here is a tiny from-scratch BERT whose vocabulary was trained on the Chinese texts (the real
multilingual one: ``test_encoder_routing_slow.py``); the main encoder is the packaged MiniLM, since only its
[UNK] verdict is known."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

import pipeline.encoder_choice as encoder_choice
from store import importer, jobfiles as jf, runs

ENGLISH = {"refund": ["refund", "money", "back", "return"], "track": ["where", "parcel", "tracking", "shipped"],
           "greet": ["hello", "hi", "morning", "there"]}
# mostly [UNK] to MiniLM
CHINESE = {"refund": ["退款", "钱", "还给"], "track": ["包裹", "快递", "物流"], "greet": ["你好", "早", "晚安"]}


def turns(n_english: int, n_chinese: int, *, labelled_share: float = 0.5, seed: int = 0) -> list[dict]:
    """English and Chinese turns over three intents, each intent with its own words; the first half of
    each language is labelled. The Chinese turns' intents are kept in ``meta`` for scoring the unlabelled ones."""
    rng = np.random.default_rng(seed)
    names = sorted(ENGLISH)
    records = []
    for lang, n, words, joiner in (("en", n_english, ENGLISH, " "), ("zh", n_chinese, CHINESE, "")):
        for i in range(n):
            intent = names[i % 3]
            text = joiner.join(rng.choice(words[intent], size=3)) + joiner + f"{i}"
            record = {"id": f"{lang}{i:03d}", "conversation_id": f"{lang}c{i:03d}", "turn_index": 0, "context": [],
                      "text": text, "response": "sure", "meta": {"lang": lang, "intent": intent}}
            if i < n * labelled_share:
                record["intents"] = [intent]
            records.append(record)
    return records


@pytest.fixture(scope="module")
def tiny_route_encoder(tmp_path_factory):
    from pipeline.tiny import build_tiny_encoder

    texts = [r["text"] for r in turns(60, 30)]
    return str(build_tiny_encoder(texts, tmp_path_factory.mktemp("route") / "encoder", hidden=32, layers=1, heads=2))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCORD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CONCORD_THREADS", "1")
    return tmp_path


def run(db, env, records: list[dict]) -> tuple[dict, dict, dict]:
    """(result, metrics, predictions by turn id) of one fast job on the packaged encoder (auto choice)."""
    from pipeline.worker_job import run_job

    path = env / "turns.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    assert importer.import_files(db, [path], labels="gold").ok
    run_id = runs.write_job(db, env / "jobs", kind="fast", batch_size=5)
    result = run_job(env / "jobs" / jf.PENDING / run_id, env / "out")
    metrics = json.loads((env / "out" / jf.METRICS_FILE).read_text())
    predictions = {p["turn_id"]: p for p in pq.read_table(env / "out" / jf.PREDICTIONS_FILE).to_pylist()}
    return result, metrics, predictions


def test_unreadable_turns_are_routed_read_and_suggested_by_the_route_model(db, env, tiny_route_encoder, monkeypatch):
    from workbench.views.pipeline import encoder_line, unreadable_warning

    monkeypatch.setattr(encoder_choice, "ROUTE_ENCODER", tiny_route_encoder)
    records = turns(60, 30)
    result, metrics, predictions = run(db, env, records)
    chinese = {r["id"]: r["meta"]["intent"] for r in records if r["meta"]["lang"] == "zh"}
    assert result["status"] == "done" and "route_s" in result["timings"]
    assert set(metrics["routed_ids"]) == set(chinese)
    assert all(predictions[t]["encoder_reads"] is True for t in chinese)          # read, by the route encoder
    assert all(predictions[r["id"]]["encoder_reads"] is True for r in records if r["meta"]["lang"] == "en")
    unlabelled = [t for t, r in zip(chinese, records[60:]) if not r.get("intents")]
    hits = [predictions[t]["intents"] == [chinese[t]] for t in unlabelled]
    assert sum(hits) / len(hits) >= 0.8, hits                                     # MiniLM sees [UNK] [UNK] ...
    choice = metrics["encoder_choice"]
    assert choice["routed"] == 30 and choice["route_error"] is None and choice["routed_encoder"].startswith("encoder@")
    assert "30 unreadable turn(s) were routed to encoder, which reads them" in encoder_line(metrics)
    assert unreadable_warning(metrics) is None       # no "their suggestions are unreliable" for routed turns


def test_too_few_unreadable_turns_load_no_route_encoder(db, env, monkeypatch, tmp_path):
    """Below ROUTE_MIN_TURNS nothing is routed; the missing route encoder shows it is never even loaded."""
    monkeypatch.setattr(encoder_choice, "ROUTE_ENCODER", str(tmp_path / "no-such-encoder"))
    records = turns(60, encoder_choice.ROUTE_MIN_TURNS - 1)
    result, metrics, predictions = run(db, env, records)
    assert result["status"] == "done" and "route_s" not in result["timings"]
    assert metrics["routed_ids"] == [] and "routed" not in metrics["encoder_choice"]
    assert [p["encoder_reads"] for t, p in predictions.items() if t.startswith("zh")] == [False] * 4


def test_a_route_encoder_that_cannot_load_leaves_the_run_as_before(db, env, monkeypatch, tmp_path):
    from workbench.views.pipeline import encoder_line, unreadable_warning

    monkeypatch.setattr(encoder_choice, "ROUTE_ENCODER", str(tmp_path / "no-such-encoder"))
    result, metrics, predictions = run(db, env, turns(60, 12))
    assert result["status"] == "done"
    assert all(p["encoder_reads"] is False for t, p in predictions.items() if t.startswith("zh"))
    choice = metrics["encoder_choice"]
    assert choice["routed"] == 0 and "cannot load encoder" in choice["route_error"] and metrics["routed_ids"] == []
    assert "the multilingual route failed, so 12 unreadable turn(s) keep no reliable suggestion" in encoder_line(metrics)
    assert unreadable_warning(metrics).startswith("17% of the turns")
