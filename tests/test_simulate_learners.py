"""The simulated loop's intent head: production's fast-mode fitting and calibration on plain arrays."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.fast import platt_sigmoid, train_fast
from pipeline.simulate_learners import fit_calibrated_head


def _multi_label_data(n: int, seed: int, *, k: int = 6, d: int = 16):
    """Rows whose labels are noisy linear functions of the features (a rare-positive regime)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(k, d))
    x = rng.normal(size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    logits = 4.0 * x @ w.T - 2.5
    y = (rng.random((n, k)) < 1 / (1 + np.exp(-logits))).astype(float)
    return x, y


def test_platt_recovers_a_known_scale_and_shift():
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(4000, 5))
    true_a, true_b = 0.5, 1.2                      # p = sigmoid(0.5 z + 1.2)
    y = (rng.random(z.shape) < 1 / (1 + np.exp(-(true_a * z + true_b)))).astype(float)
    temperature, shift = platt_sigmoid(z, y)
    assert temperature == pytest.approx(1 / true_a, rel=0.1)
    assert shift == pytest.approx(true_b / true_a, rel=0.15)


def test_platt_leaves_calibrated_logits_alone():
    rng = np.random.default_rng(1)
    z = rng.normal(scale=2.0, size=(4000, 4))
    y = (rng.random(z.shape) < 1 / (1 + np.exp(-z))).astype(float)
    temperature, shift = platt_sigmoid(z, y)
    assert temperature == pytest.approx(1.0, abs=0.1)
    assert shift == pytest.approx(0.0, abs=0.1)


def test_platt_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="expected logits and targets of one"):
        platt_sigmoid(np.zeros((3, 2)), np.zeros((3, 3)))


def test_calibrated_sigmoid_head_shifts_towards_the_held_out_truth():
    x, y = _multi_label_data(300, 0)
    head = fit_calibrated_head(x, y, classes=list(range(y.shape[1])), seed=0)
    assert head.kind == "sigmoid" and head.prior_shift.shape == (y.shape[1],)
    assert np.all(head.prior_shift == head.prior_shift[0])      # one shift shared by every label
    # the shift was fit on held-out rows: refitting with shuffled labels must give another one
    y_shuffled = y[np.random.default_rng(5).permutation(len(y))]
    other = fit_calibrated_head(x, y_shuffled, classes=list(range(y.shape[1])), seed=0)
    assert not np.isclose(head.prior_shift[0], other.prior_shift[0])


def test_small_sets_are_not_calibrated_and_softmax_gets_only_a_temperature():
    x, y = _multi_label_data(60, 1)
    head = fit_calibrated_head(x, y, classes=list(range(y.shape[1])), seed=0)
    assert head.temperature == 1.0 and np.all(head.prior_shift == 0)   # < 100 rows: nothing held out
    x_big, y_big = _multi_label_data(400, 2)
    soft = fit_calibrated_head(x_big, y_big.argmax(axis=1), seed=0)
    assert soft.kind == "softmax" and np.all(soft.prior_shift == 0)
    assert soft.temperature != 1.0


class _TableEncoder:
    """Sentence vectors looked up by text: lets ``train_fast`` run on known features."""

    def __init__(self, table: dict):
        self.table = table

    def embed(self, texts):
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def test_production_fast_head_and_the_simulated_one_agree_on_the_platt_shift():
    x, y = _multi_label_data(300, 3)
    names = [f"l{j}" for j in range(y.shape[1])]
    records = [{"id": str(i), "text": f"turn {i}", "intents": [names[j] for j in np.flatnonzero(row)],
                "meta": {"no_intent": not row.any()}} for i, row in enumerate(y)]
    encoder = _TableEncoder({r["text"]: x[i] for i, r in enumerate(records)})
    schema = {"intents": names, "multi_label": True, "sentiments": [], "entities": []}
    heads, _ = train_fast(records, schema, encoder, seed=4)
    simulated = fit_calibrated_head(x, y, classes=names, seed=4)
    assert heads["intent"].kind == "sigmoid" and heads["intent"].prior_shift[0] != 0
    np.testing.assert_allclose(heads["intent"].prior_shift, simulated.prior_shift, atol=0.01)
    assert heads["intent"].temperature == pytest.approx(simulated.temperature, rel=0.01)


def test_softmax_refit_may_see_a_class_the_held_out_split_hid():
    from pipeline.fast import _split

    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 8))
    y = rng.integers(0, 4, size=200)
    y[:2] = 9  # a class with two rows, both held out by the chosen seed's split
    seed = next(s for s in range(1000) if {0, 1} <= set(_split(200, s)[1].tolist()))
    head = fit_calibrated_head(x, y, seed=seed)
    assert head.classes == [0, 1, 2, 3, 9]
    assert head.predict_proba(x).shape == (200, 5)


def _array_learner(n_pool: int = 400, n_test: int = 200, seed: int = 3):
    """An EmbeddingLearner over synthetic multi-label features, looked up by text."""
    from pipeline.simulate_learners import EmbeddingLearner

    x, y = _multi_label_data(n_pool + n_test, seed)
    records = [{"id": str(i), "text": f"turn {i}", "intents": [f"l{j}" for j in np.flatnonzero(row)]}
               for i, row in enumerate(y)]
    encoder = _TableEncoder({r["text"]: x[i] for i, r in enumerate(records)})
    return EmbeddingLearner(records[:n_pool], records[n_pool:], encoder=encoder)


def test_a_simulated_session_does_not_depend_on_what_the_learner_fit_before():
    """Each run starts cold: the multi-label head warm-starts within a session, but a session started
    after the full-data fit (or another strategy's run) must not begin from that model's weights."""
    from pipeline.simulate import LoopSettings, label_steps, run_once

    learner = _array_learner()
    settings = LoopSettings(seed_size=20, batch_size=20, budget=100, repeats=1)
    steps = label_steps(learner.n_pool, settings)
    first = run_once("margin", learner, settings, steps, repeat=0)
    learner.fit(np.arange(learner.n_pool), seed=0)          # what simulate() does before the runs
    again = run_once("margin", learner, settings, steps, repeat=0)
    assert again == first
