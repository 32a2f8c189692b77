"""Fusion of p(intent | text) with p(intent | response): classifier, product of experts, learned weight."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.fusion import ResponseIntentClassifier, fit_fusion_weight, fuse, mean_log_likelihood

K = 4


def noisy_probs(truth: np.ndarray, *, strength: float, rng) -> np.ndarray:
    """Softmax rows that favour the true class by ``strength`` nats over Gumbel-like noise."""
    logits = rng.normal(size=(len(truth), K))
    logits[np.arange(len(truth)), truth] += strength
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def test_weight_zero_and_missing_responses_keep_the_text_probabilities():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, K, 50)
    p_text, p_resp = noisy_probs(truth, strength=1.0, rng=rng), noisy_probs(truth, strength=2.0, rng=rng)
    np.testing.assert_allclose(fuse(p_text, p_resp, weight=0.0), p_text)
    p_resp[:10] = np.nan
    fused = fuse(p_text, p_resp, weight=1.0)
    np.testing.assert_allclose(fused[:10], p_text[:10])
    np.testing.assert_allclose(fused.sum(axis=1), 1.0)
    assert not np.allclose(fused[10:], p_text[10:])


def test_gate_zero_keeps_text_and_gate_one_is_plain_fusion():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, K, 20)
    p_text, p_resp = noisy_probs(truth, strength=1.0, rng=rng), noisy_probs(truth, strength=2.0, rng=rng)
    np.testing.assert_allclose(fuse(p_text, p_resp, weight=1.0, gate=np.zeros(20)), p_text)
    np.testing.assert_allclose(fuse(p_text, p_resp, weight=1.0, gate=np.ones(20)), fuse(p_text, p_resp, weight=1.0))
    with pytest.raises(ValueError, match=r"gate: expected shape \(20,\), got \(3,\)"):
        fuse(p_text, p_resp, weight=1.0, gate=np.ones(3))


def test_learned_weight_uses_an_informative_response_and_ignores_noise():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, K, 2000)
    targets = np.eye(K)[truth]
    p_text = noisy_probs(truth, strength=1.0, rng=rng)
    informative = noisy_probs(truth, strength=2.5, rng=rng)
    w = fit_fusion_weight(p_text, informative, targets)
    assert w > 0.3
    fused = fuse(p_text, informative, weight=w)
    assert mean_log_likelihood(fused, targets) > mean_log_likelihood(p_text, targets) + 0.1
    assert (fused.argmax(1) == truth).mean() > (p_text.argmax(1) == truth).mean()
    noise = noisy_probs(rng.integers(0, K, 2000), strength=2.5, rng=rng)   # unrelated to the truth
    assert fit_fusion_weight(p_text, noise, targets) < 0.05


def test_multi_label_fusion_is_per_label():
    p_text = np.array([[0.6, 0.4, 0.5]])
    p_resp = np.array([[0.9, 0.1, 0.5]])
    fused = fuse(p_text, p_resp, weight=1.0, prior=np.array([0.5, 0.5, 0.5]), multi_label=True)
    assert fused[0, 0] > 0.6 and fused[0, 1] < 0.4 and fused[0, 2] == pytest.approx(0.5)


def test_response_classifier_learns_and_round_trips():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(K, 16)) * 3
    y = rng.integers(0, K - 1, 400)                     # the last class never occurs in training
    X = centres[y] + rng.normal(size=(400, 16))
    classes = ["a", "b", "c", "never"]
    clf = ResponseIntentClassifier.fit(X, np.eye(K)[y], classes=classes)
    X_test_y = rng.integers(0, K - 1, 200)
    probs = clf.predict_proba(centres[X_test_y] + rng.normal(size=(200, 16)))
    assert (probs.argmax(1) == X_test_y).mean() > 0.9
    assert probs[:, 3].max() < 0.01
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    again = ResponseIntentClassifier.from_arrays(clf.to_arrays())
    np.testing.assert_allclose(again.predict_proba(X[:5]), clf.predict_proba(X[:5]))
    assert again.classes == classes


def test_response_classifier_multi_label_and_validation():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 8))
    targets = np.c_[X[:, 0] > 0, X[:, 1] > 0, np.zeros(300)].astype(float)   # third label never on
    targets[targets.sum(1) == 0, 2] = 0
    clf = ResponseIntentClassifier.fit(X, targets + 0.0, classes=["x", "y", "z"], multi_label=True)
    probs = clf.predict_proba(np.array([[3.0, -3.0] + [0] * 6]))
    assert probs[0, 0] > 0.8 and probs[0, 1] < 0.2 and probs[0, 2] < 0.05
    with pytest.raises(ValueError, match="targets: expected 3 columns, got 2"):
        ResponseIntentClassifier.fit(X, targets[:, :2], classes=["x", "y", "z"])
    with pytest.raises(ValueError, match="weight: expected >= 0, got -1"):
        fuse(probs, probs, weight=-1)
