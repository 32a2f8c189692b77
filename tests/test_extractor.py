"""Extractor (fast and full modes), BIO tagging and calibration, on tiny from-scratch encoders."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CONCORD_THREADS", "1")  # 2 torch threads on a shared 2-core CPU can be 10x slower

from pipeline.encoders import load_encoder  # noqa: E402
from pipeline.extractor import Extractor, evaluate, label_schema  # noqa: E402
from pipeline.heads import fit_temperature, scores_to_proba  # noqa: E402
from pipeline.tagging import decode_spans, encode_bio, tag_names  # noqa: E402
from pipeline.tiny import build_tiny_encoder  # noqa: E402

TEMPLATES = {
    "cancel_order": ["cancel order {n}", "please cancel my order {n} now", "i want to cancel purchase {n}"],
    "track_order": ["where is order {n}", "track my package {n}", "status of shipment {n} please"],
    "refund": ["i want my money back", "refund me please", "give me a refund for the broken item"],
    "greet": ["hello there", "hi how are you", "good morning friend"],
    "book_hotel": ["帮我订{c}的酒店", "我想在{c}住一晚", "{c}有什么好酒店"],
}
SENTIMENT = {"cancel_order": "negative", "track_order": "neutral", "refund": "negative", "greet": "positive",
             "book_hotel": "neutral"}
CITIES = ["北京", "上海", "广州", "深圳"]
ORDER_IDS = [str(n) for n in range(3100, 3700, 37)]  # a closed set: a random tiny encoder cannot generalise to unseen subwords


def make_records(n: int, seed: int = 0, *, sentiment: bool = True) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        intent = rng.choice(sorted(TEMPLATES))
        template = rng.choice(TEMPLATES[intent])
        value = rng.choice(ORDER_IDS) if "{n}" in template else rng.choice(CITIES)
        slot = "{n}" if "{n}" in template else "{c}"
        text = template.replace(slot, value)
        entities = []
        if slot in template:
            start = template.index(slot)
            entities = [{"start": start, "end": start + len(value), "label": "order_id" if slot == "{n}" else "city"}]
        records.append({"id": f"t{i}", "text": text, "intents": [intent], "entities": entities,
                        "sentiment": SENTIMENT[intent] if sentiment else None, "meta": {}})
    return records


@pytest.fixture(scope="module")
def records():
    return make_records(240, seed=1)


@pytest.fixture(scope="module")
def encoder(records, tmp_path_factory):
    path = build_tiny_encoder([r["text"] for r in records], tmp_path_factory.mktemp("tiny"), hidden=64, layers=2)
    return load_encoder(str(path), cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def fast_model(records, encoder):
    return Extractor.train(records, mode="fast", encoder=encoder, seed=0)


def test_bio_round_trip_and_repair():
    text = "cancel order 12345 in 北京"
    offsets = np.array([[0, 6], [7, 12], [13, 16], [16, 18], [19, 21], [22, 23], [23, 24]])
    spans = [{"start": 13, "end": 18, "label": "order_id"}, {"start": 22, "end": 24, "label": "city"}]
    names = tag_names(["order_id", "city"])
    tags = encode_bio(offsets, spans, names)
    assert [names[t] for t in tags] == ["O", "O", "B-order_id", "I-order_id", "O", "B-city", "I-city"]
    decoded = decode_spans(np.eye(len(names))[tags], offsets, names)
    assert [(s["start"], s["end"], s["label"]) for s in decoded] == [(13, 18, "order_id"), (22, 24, "city")]
    assert text[decoded[1]["start"]:decoded[1]["end"]] == "北京"
    # greedy argmax would emit O, I-city (an I- without its B-); the constrained Viterbi path is B-city, I-city
    probs = np.full((2, len(names)), 0.001)
    probs[0, names.index("O")], probs[0, names.index("B-city")] = 0.6, 0.3
    probs[1, names.index("I-city")], probs[1, names.index("B-city")], probs[1, names.index("O")] = 0.9, 0.05, 0.04
    repaired = decode_spans(probs, offsets[:2], names)
    assert [(s["start"], s["end"], s["label"]) for s in repaired] == [(0, 12, "city")]
    assert repaired[0]["score"] == pytest.approx((0.3 + 0.9) / 2)


def test_schema_and_heads_follow_the_labels(records, fast_model):
    assert fast_model.schema == label_schema(records)
    assert fast_model.schema["multi_label"] is False
    assert all(fast_model.heads[h] is not None for h in ("intent", "sentiment", "tagger"))
    no_sentiment = make_records(60, seed=2, sentiment=False)
    model = Extractor.train(no_sentiment, mode="fast", encoder=fast_model.encoder)
    assert model.heads["sentiment"] is None
    row = model.predict(no_sentiment[:1])[0]
    assert row["sentiment"] is None and row["sentiment_probs"] == {}


def test_fast_mode_learns_intents_entities_sentiment(records, fast_model):
    test = make_records(120, seed=7)
    scores = evaluate(fast_model, test)
    assert scores["n"] == 120
    assert scores["intent_accuracy"] > 0.9
    assert scores["entity_f1"] > 0.8
    assert scores["sentiment_macro_f1"] > 0.8
    assert set(scores["entity_f1_per_type"]) == {"city", "order_id"}
    assert scores["intent_confusion"]["labels"] == sorted(TEMPLATES)


def test_predict_rows_and_arrays_agree(records, fast_model):
    test = make_records(30, seed=9)
    rows = fast_model.predict(test)
    arrays = fast_model.predict_arrays(test)
    assert arrays.intent_probs.shape == (30, len(TEMPLATES))
    np.testing.assert_allclose(arrays.intent_probs.sum(1), 1.0, atol=1e-5)
    assert arrays.embeddings.shape == (30, fast_model.encoder.dim)
    assert len(arrays.token_probs) == 30 and arrays.token_probs[0].shape[1] == len(arrays.tag_names)
    for record, row in zip(test, rows):
        assert set(row) >= {"id", "intents", "intent_probs", "entities", "sentiment", "sentiment_probs"}
        assert row["intents"] == [max(row["intent_probs"], key=row["intent_probs"].get)]
        for span in row["entities"]:
            assert 0 <= span["start"] < span["end"] <= len(record["text"]) and 0 < span["score"] <= 1


def test_multi_label_is_automatic(encoder):
    recs = make_records(150, seed=3)
    for r in recs[::3]:
        r["intents"] = r["intents"] + ["urgent"]
    model = Extractor.train(recs, mode="fast", encoder=encoder)
    assert model.schema["multi_label"] is True and model.heads["intent"].kind == "sigmoid"
    arrays = model.predict_arrays(recs[:10])
    assert arrays.multi_label and not np.allclose(arrays.intent_probs.sum(1), 1.0)
    scores = evaluate(model, recs)
    assert scores["intent_micro_f1"] is not None and scores["multi_label"] is True


def test_save_load_round_trip_and_schema_check(records, fast_model, tmp_path):
    out = fast_model.save(tmp_path / "model")
    for name in ("extractor.json", "schema.json", "metrics.json", "heads.npz"):
        assert (out / name).is_file()
    loaded = Extractor.load(out, expect_schema=fast_model.schema, cache_dir=fast_model.encoder.cache_dir)
    assert loaded.encoder_identity == fast_model.encoder_identity
    test = make_records(20, seed=11)
    assert loaded.predict(test) == fast_model.predict(test)
    other = dict(fast_model.schema, intents=fast_model.schema["intents"] + ["new_intent"])
    with pytest.raises(ValueError, match=r"intents: missing \['new_intent'\]"):
        Extractor.load(out, expect_schema=other)


def test_temperature_scaling_fixes_overconfidence():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 3000)
    logits = rng.normal(size=(3000, 3))
    logits[np.arange(3000), y] += 1.0
    sharp = logits * 6                                   # same ranking, far too confident
    T = fit_temperature(sharp, y)
    assert 4.5 < T < 7.5
    calibrated = scores_to_proba(sharp / T, "softmax")
    nll = -np.log(calibrated[np.arange(3000), y]).mean()
    assert nll < -np.log(scores_to_proba(sharp, "softmax")[np.arange(3000), y]).mean()


def test_train_rejects_unlabelled_records(encoder):
    with pytest.raises(ValueError, match="expected records with intents"):
        Extractor.train([{"text": "hello", "intents": [], "entities": [], "sentiment": None}], encoder=encoder)


@pytest.fixture(scope="module")
def full_model(records, encoder):
    return Extractor.train(records, mode="full", encoder=encoder, seed=0, max_epochs=3, lr=1e-3, head_lr=3e-3,
                           batch_size=16, patience=4)


def test_full_mode_fine_tunes_and_beats_fast(fast_model, full_model):
    info = full_model.train_metrics
    assert info["mode"] == "full" and 1 <= info["best_epoch"] <= info["epochs_run"] <= 3
    assert full_model.encoder_identity != fast_model.encoder_identity   # the weights changed
    test = make_records(150, seed=21)
    fast_scores, full_scores = evaluate(fast_model, test), evaluate(full_model, test)
    assert full_scores["intent_accuracy"] >= fast_scores["intent_accuracy"]
    assert full_scores["entity_f1"] > 0.8 and full_scores["sentiment_macro_f1"] > 0.8


def test_full_mode_is_reproducible_with_a_seed(records, encoder, full_model):
    again = Extractor.train(records, mode="full", encoder=encoder, seed=0, max_epochs=3, lr=1e-3, head_lr=3e-3,
                            batch_size=16, patience=4)
    assert again.encoder_identity == full_model.encoder_identity


def test_full_mode_save_load_round_trip(full_model, tmp_path):
    out = full_model.save(tmp_path / "full")
    assert (out / "encoder" / "config.json").is_file()
    loaded = Extractor.load(out, expect_schema=full_model.schema, cache_dir=tmp_path / "cache")
    test = make_records(20, seed=5)
    expected, actual = full_model.predict_arrays(test), loaded.predict_arrays(test)
    np.testing.assert_allclose(actual.intent_probs, expected.intent_probs, atol=1e-3)
    assert [r["intents"] for r in loaded.predict(test)] == [r["intents"] for r in full_model.predict(test)]


@pytest.mark.slow
def test_packaged_encoder_fast_mode_on_bitext(tmp_path):
    from pathlib import Path

    if not (Path(__file__).resolve().parents[2] / "shared" / "data" / "bitext-customer-support").is_dir():
        pytest.skip("../shared/data/bitext-customer-support not present")
    from bench.datasets import load

    train, test = load("bitext", split="train")[:1200], load("bitext", split="test")[:300]
    model = Extractor.train(train, mode="fast", encoder=load_encoder(cache_dir=tmp_path))
    scores = evaluate(model, test)
    assert scores["intent_accuracy"] > 0.95 and scores["entity_f1"] > 0.85
    assert scores["intent_ece"] < 0.05
