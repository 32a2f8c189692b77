"""``concord simulate`` end to end on a tiny from-scratch encoder and small synthetic dialogs."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pipeline.simulate import (  # noqa: E402
    LoopSettings, curve_auc, label_steps, labels_to_reach, resolve_strategies, simulate, summarise,
)

VOCAB = {
    "refund": ["refund", "money back", "reimburse", "repay"],
    "track_order": ["track", "where is", "parcel", "delivery status"],
    "cancel": ["cancel", "stop", "abort", "call off"],
    "greeting": ["hello", "good morning", "hi there", "hey"],
}
FILLER = ["please", "my order", "today", "thanks", "now", "quickly", "again", "ok"]


def _dialogs(n_per_intent: int, seed: int, *, spans: bool = False) -> list[dict]:
    """Turns whose intent is carried by its own words; optional order-number entity spans."""
    rng = np.random.default_rng(seed)
    records = []
    for intent, words in VOCAB.items():
        for i in range(n_per_intent):
            text = f"{rng.choice(words)} {rng.choice(FILLER)} {rng.choice(words)} {rng.choice(FILLER)}"
            rec = {"id": f"{intent}-{seed}-{i}", "text": text, "intents": [intent]}
            if spans and i % 2 == 0:
                number = str(rng.integers(10000, 99999))
                rec["text"] = f"{text} order {number}"
                start = len(text) + len(" order ")
                rec["entities"] = [{"start": start, "end": start + len(number), "label": "order_id"}]
            records.append(rec)
    return records


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    from pipeline.encoders import load_encoder
    from pipeline.tiny import build_tiny_encoder

    texts = [r["text"] for r in _dialogs(10, 99, spans=True)]
    path = build_tiny_encoder(texts, tmp_path_factory.mktemp("tiny"), hidden=64, layers=2, heads=2)
    return load_encoder(str(path), cache_dir=tmp_path_factory.mktemp("cache"))


def test_label_steps_auc_and_labels_to_reach():
    settings = LoopSettings(seed_size=10, batch_size=15, budget=50)
    assert label_steps(1000, settings) == [10, 25, 40, 50]
    assert label_steps(30, settings) == [10, 25, 30]
    assert labels_to_reach([10, 20, 30], [0.5, 0.8, 0.9], 0.8) == 20
    assert labels_to_reach([10, 20, 30], [0.5, 0.6, 0.7], 0.8) is None
    assert curve_auc([0, 10, 20], [0.0, 1.0, 1.0]) == pytest.approx(0.75)


def test_summarise_uses_mean_over_repeats_for_the_95pct_point():
    runs = [{"intent_accuracy": [0.5, 0.9, 1.0], "intent_macro_f1": [0.4, 0.8, 1.0]},
            {"intent_accuracy": [0.5, 0.7, 1.0], "intent_macro_f1": [0.4, 0.6, 1.0]}]
    out = summarise([10, 20, 30], runs, {"intent_accuracy": 1.0})
    assert out["intent_accuracy_mean"] == [0.5, 0.8, 1.0]
    assert out["intent_accuracy_std"][1] == pytest.approx(0.1)
    assert out["labels_to_95pct"] == 30 and "entity_f1_mean" not in out


def test_strategy_names_are_checked():
    assert "random" in resolve_strategies("all")
    assert resolve_strategies("margin, badge") == ["margin", "badge"]
    with pytest.raises(ValueError, match="expected a base in"):
        resolve_strategies("clever")
    with pytest.raises(ValueError, match="does not measure"):
        resolve_strategies("alignment_driven")
    with pytest.raises(ValueError, match="expected at least seed_size"):
        LoopSettings(seed_size=30, budget=20).validate(100)


def _check_curve_shape(curve: dict, *, strategies: list[str], entity: bool) -> None:
    assert set(curve) == {"full_data", "strategies"}
    expected_full = {"intent_accuracy", "intent_macro_f1"} | ({"entity_f1"} if entity else set())
    assert set(curve["full_data"]) == expected_full
    assert list(curve["strategies"]) == strategies
    metrics = ["intent_accuracy", "intent_macro_f1"] + (["entity_f1"] if entity else [])
    for c in curve["strategies"].values():
        keys = {"labels", "labels_to_95pct", "auc"} | {f"{m}_{s}" for m in metrics for s in ("mean", "std")}
        assert set(c) == keys
        n = len(c["labels"])
        assert all(len(c[f"{m}_{s}"]) == n for m in metrics for s in ("mean", "std"))
        assert all(0.0 <= v <= 1.0 for m in metrics for v in c[f"{m}_mean"])
        assert c["labels"] == sorted(c["labels"]) and 0.0 <= c["auc"] <= 1.0


def test_simulate_intent_only_produces_the_curve_shape_and_learns(tiny_encoder):
    pool, test = _dialogs(20, 1), _dialogs(8, 2)
    settings = LoopSettings(seed_size=8, batch_size=8, budget=40, repeats=2, seed=3)
    curve = simulate(pool, test, strategies=["random", "margin+prefilter"], settings=settings,
                     encoder=tiny_encoder)
    _check_curve_shape(curve, strategies=["random", "margin+prefilter"], entity=False)
    c = curve["strategies"]["margin+prefilter"]
    assert c["labels"] == [8, 16, 24, 32, 40]
    assert curve["full_data"]["intent_accuracy"] > 0.5  # 4 intents: chance is 0.25
    assert max(c["intent_accuracy_mean"]) > 0.4


def test_simulate_multi_label_pool(tiny_encoder):
    pool, test = _dialogs(12, 4), _dialogs(6, 5)
    for r in pool[::5] + test[::5]:
        r["intents"] = r["intents"] + ["greeting" if r["intents"][0] != "greeting" else "cancel"]
    settings = LoopSettings(seed_size=10, batch_size=10, budget=30, repeats=1)
    curve = simulate(pool, test, strategies="margin,badge", settings=settings, encoder=tiny_encoder)
    _check_curve_shape(curve, strategies=["margin", "badge"], entity=False)


def test_simulate_with_spans_retrains_the_extractor_and_reports_entity_f1(tiny_encoder):
    pytest.importorskip("pipeline.extractor")
    pool, test = _dialogs(10, 6, spans=True), _dialogs(4, 7, spans=True)
    settings = LoopSettings(seed_size=8, batch_size=8, budget=24, repeats=1)
    curve = simulate(pool, test, strategies=["multi_head"], settings=settings, encoder=tiny_encoder)
    _check_curve_shape(curve, strategies=["multi_head"], entity=True)


def test_cli_writes_curve_json_and_plot(tiny_encoder, tmp_path, monkeypatch, capsys):
    from store.records import write_jsonl
    from workbench.cli import main

    monkeypatch.setenv("CONCORD_CACHE", str(tiny_encoder.cache_dir))
    write_jsonl(tmp_path / "pool.jsonl", _dialogs(12, 8))
    write_jsonl(tmp_path / "test.jsonl", _dialogs(5, 9))
    out = tmp_path / "curves" / "CURVE.json"
    status = main(["simulate", "--pool", str(tmp_path / "pool.jsonl"), "--test", str(tmp_path / "test.jsonl"),
                   "--strategy", "random,entropy", "--seed-size", "8", "--batch-size", "10",
                   "--budget", "28", "--repeats", "2", "--encoder", tiny_encoder.source,
                   "--quiet", "--out", str(out)])
    assert status == 0
    curve = json.loads(out.read_text())
    _check_curve_shape(curve, strategies=["random", "entropy"], entity=False)
    assert curve["strategies"]["entropy"]["labels"] == [8, 18, 28]
    html = out.with_suffix(".html").read_text()
    assert "plotly" in html.lower() and "entropy" in html
    assert "labels_to_95pct" in capsys.readouterr().out


def test_cli_reports_bad_input_files(tmp_path, capsys):
    from workbench.cli import main

    (tmp_path / "pool.jsonl").write_text('{"text": "hi", "intents": 5}\n')
    (tmp_path / "test.jsonl").write_text('{"text": "hello", "intents": ["greeting"]}\n')
    status = main(["simulate", "--pool", str(tmp_path / "pool.jsonl"), "--test", str(tmp_path / "test.jsonl"),
                   "--out", str(tmp_path / "c.json")])
    assert status == 2
    assert "pool.jsonl:1" in capsys.readouterr().err
