"""Fast-mode warm starts: a refit from the previous model's heads lands on the same model as a cold fit,
and a head whose features do not match (another tag window) is ignored rather than crashing the fit."""
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
