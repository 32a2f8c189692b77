"""Fast-mode refits: a warm start from the previous model's heads lands on the same model as a cold fit (and a
head over other features is ignored), and the tagger's subsampled training rows equal the rows of the full
per-turn window matrix that ``pipeline.extractor.window_features`` builds."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest

os.environ.setdefault("CONCORD_THREADS", "1")

INTENTS = {"cancel": ["cancel order {n}", "please cancel {n} now"], "track": ["where is order {n}", "track parcel {n}"],
           "greet": ["hello there", "good morning friend"], "refund": ["refund order {n} please", "money back for {n}"]}


def make_records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        intent = rng.choice(sorted(INTENTS))
        template = rng.choice(INTENTS[intent])
        number = str(rng.randrange(100, 140))
        text = template.replace("{n}", number)
        entities = [{"start": template.index("{n}"), "end": template.index("{n}") + len(number), "label": "order"}] \
            if "{n}" in template else []
        out.append({"id": f"r{seed}-{i}", "text": text, "intents": [intent], "entities": entities,
                    "sentiment": None, "meta": {}})
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from pipeline.encoders import load_encoder
    from pipeline.tiny import build_tiny_encoder

    first, more = make_records(160, 1), make_records(40, 2)
    path = build_tiny_encoder([r["text"] for r in first + more], tmp_path_factory.mktemp("tiny"), hidden=64, layers=2)
    return first, more, load_encoder(str(path), cache_dir=tmp_path_factory.mktemp("cache"))


def test_warm_refit_matches_a_cold_fit_on_the_same_labels(setup):
    from pipeline.extractor import Extractor

    first, more, encoder = setup
    previous = Extractor.train(first, mode="fast", encoder=encoder, seed=0)
    cold = Extractor.train(first + more, mode="fast", encoder=encoder, seed=0)
    warm = Extractor.train(first + more, mode="fast", encoder=encoder, seed=0, warm_heads=previous.heads)
    probe = make_records(60, 3)
    a, b = cold.predict_arrays(probe), warm.predict_arrays(probe)
    assert np.abs(a.intent_probs - b.intent_probs).max() < 0.03
    assert max(np.abs(x - y).max() for x, y in zip(a.token_probs, b.token_probs)) < 0.03
    assert [r["intents"] for r in cold.predict(probe)] == [r["intents"] for r in warm.predict(probe)]


def test_a_warm_head_over_other_features_is_ignored(setup):
    from pipeline.extractor import Extractor

    first, more, encoder = setup
    narrow = Extractor.train(first, mode="fast", encoder=encoder, seed=0, tag_window=0)
    cold = Extractor.train(first + more, mode="fast", encoder=encoder, seed=0, tag_window=1)
    warm = Extractor.train(first + more, mode="fast", encoder=encoder, seed=0, tag_window=1, warm_heads=narrow.heads)
    np.testing.assert_array_equal(cold.heads["tagger"].weight, warm.heads["tagger"].weight)


@pytest.mark.parametrize("window", [0, 1, 2])
def test_tagger_rows_are_the_chosen_rows_of_the_per_turn_window_matrix(setup, window):
    from pipeline import fast
    from pipeline.extractor import label_schema, window_features

    first, _, encoder = setup
    records = first[:50]
    schema = label_schema(records)
    feats = fast._features(encoder, records, True)
    idx = np.arange(0, 50, 2)
    full = np.concatenate([window_features(feats.tokens[i].vectors, window) for i in idx])
    X, y = fast._tagger_data(records, feats, idx, schema, window)
    np.testing.assert_array_equal(X, full)
    assert list(y[:3]) and set(y) >= {"O", "B-order"}
    old_min = fast.MIN_O_TOKENS
    fast.MIN_O_TOKENS = 10                      # force subsampling on this small set
    try:
        Xs, ys, rate = fast._tagger_fit_data(records, feats, idx, schema, window, seed=3)
    finally:
        fast.MIN_O_TOKENS = old_min
    kept_o = int((ys == "O").sum())
    assert 0 < rate < 1 and rate == pytest.approx(kept_o / int((y == "O").sum()))
    assert (ys != "O").sum() == (y != "O").sum()                     # every entity subword is kept
    matches = [np.flatnonzero((full == row).all(axis=1)) for row in Xs]
    assert all(len(m) for m in matches)                              # each row is a row of the full matrix ...
    assert all(y[m[0]] == t for m, t in zip(matches, ys))            # ... with its own tag


def test_the_worker_refit_keeps_the_calibration_from_turns_it_never_trained_on(setup):
    """The deployed refit trains on the held-out turns too, so it must not calibrate on them again: its
    temperatures and decision offsets are the ones the held-out turns gave the model that never saw them.
    (Calibrating in-sample shrank the temperature until nearly every probability read 1.0.)"""
    from pipeline.model import ConcordModel
    from pipeline.worker_job import _refit_extractor

    first, more, encoder = setup
    mood = {"cancel": "negative", "refund": "negative", "greet": "positive", "track": "neutral"}
    records = [dict(r, sentiment=mood[r["intents"][0]] if i % 7 else "neutral") for i, r in enumerate(first + more)]
    train, holdout = records[:150], records[150:]
    model = ConcordModel.train(train, mode="fast", encoder=encoder, valid=holdout, seed=0, alignment=False)
    deployed = _refit_extractor(model, records, seed=0, options={})
    for name in ("intent", "sentiment", "tagger"):
        held_out, refit = model.extractor.heads[name], deployed.extractor.heads[name]
        assert refit.temperature == held_out.temperature, name
        np.testing.assert_array_equal(refit.decision_offset, held_out.decision_offset)
    assert deployed.extractor.heads["intent"] is not model.extractor.heads["intent"]    # refit, not reused
