"""Alignment model on synthetic arrays: reduced-rank ridge, rank choice, hubness correction, swaps, scores."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import roc_auc_score

from pipeline.alignment import (
    FEATURES, AlignmentModel, PairArrays, choose_alpha, choose_rank, cosine_rows, csls_scores,
    fit_reduced_rank_ridge, intent_agreement, pair_features, precision_at_k, rank_curve, swap_partners,
)


def low_rank_map(d_in=24, d_out=16, rank=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(d_in, rank)) @ rng.normal(size=(rank, d_out))


def sample_pairs(A, n=600, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    I = rng.normal(size=(n, A.shape[0]))
    return I, I @ A + 0.5 + noise * rng.normal(size=(n, A.shape[1]))


def low_rank_data(n=600, rank=3, noise=0.05, seed=0):
    return sample_pairs(low_rank_map(rank=rank, seed=seed), n=n, noise=noise, seed=seed + 100)


def test_ridge_full_rank_matches_sklearn_ridge():
    I, Y = low_rank_data(rank=8)
    fit = fit_reduced_rank_ridge(I, Y, alpha=3.0)
    reference = Ridge(alpha=3.0).fit(I, Y)
    np.testing.assert_allclose(fit.predict(I), reference.predict(I), atol=1e-8)
    assert fit.rank == 16


def test_rank_curve_matches_explicit_truncation():
    I, Y = low_rank_data(seed=1)
    I_valid, Y_valid = low_rank_data(n=200, seed=2)
    fit = fit_reduced_rank_ridge(I, Y, alpha=1.0)
    curve = rank_curve(fit, I_valid, Y_valid)
    for r in (1, 2, 3, 7, 16):
        pred = fit.truncate(r).predict(I_valid)
        r2 = 1 - np.sum((Y_valid - pred) ** 2) / np.sum((Y_valid - Y_valid.mean(axis=0)) ** 2)
        assert curve[r - 1] == pytest.approx(r2, abs=1e-9)


@pytest.mark.parametrize("true_rank", [2, 3, 5])
def test_choose_rank_recovers_the_true_rank(true_rank):
    A = low_rank_map(rank=true_rank, seed=true_rank)
    I, Y = sample_pairs(A, seed=1)
    I_valid, Y_valid = sample_pairs(A, n=300, seed=2)
    choice = choose_rank(I, Y, I_valid, Y_valid, alpha=1.0, tolerance=0.01)
    assert choice.rank == true_rank
    assert choice.fit.rank == true_rank
    assert choice.curve[true_rank - 1] > 0.95


def test_choose_alpha_prefers_less_shrinkage_on_clean_data():
    I, Y = low_rank_data(noise=0.01)
    I_valid, Y_valid = I[:200] + 0.0, Y[:200]
    alpha, scores = choose_alpha(I[200:], Y[200:], I_valid, Y_valid, alphas=(0.1, 1000.0))
    assert alpha == 0.1 and scores[0.1] > scores[1000.0]


def test_validation_messages_say_expected_and_actual():
    I, Y = low_rank_data()
    with pytest.raises(ValueError, match="alpha: expected > 0, got 0"):
        fit_reduced_rank_ridge(I, Y, alpha=0)
    with pytest.raises(ValueError, match="expected 600 rows, got 5"):
        fit_reduced_rank_ridge(I, Y[:5], alpha=1.0)
    with pytest.raises(ValueError, match=r"rank: expected 1\.\.16, got 17"):
        fit_reduced_rank_ridge(I, Y, alpha=1.0).truncate(17)
    with pytest.raises(ValueError, match="expected one embedding width"):
        pair_features(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4)))


def test_csls_penalises_a_generic_response():
    rng = np.random.default_rng(0)
    predicted = rng.normal(size=(50, 8))
    generic = predicted.mean(axis=0)               # close to every prediction: a hub
    specific = predicted[0] + 0.05 * rng.normal(size=8)
    responses = np.vstack([generic, specific])
    pred_rows = predicted[[1, 0]]                  # generic reply to turn 1, specific reply to turn 0
    cos = cosine_rows(pred_rows, responses)
    csls = csls_scores(pred_rows, responses, reference_predicted=predicted, reference_responses=predicted, k=5)
    assert csls[1] - csls[0] > cos[1] - cos[0]


def test_swap_partners_cross_groups_only():
    groups = np.repeat(np.arange(30), 4)
    turns, sources = swap_partners(groups, np.arange(len(groups)), repeats=3, seed=1)
    assert len(turns) > 0.9 * 3 * len(groups)
    assert np.all(groups[turns] != groups[sources])


def test_intent_agreement_and_precision_at_k():
    p_turn = np.array([[1.0, 0.0], [0.0, 1.0]])
    p_resp = np.array([[0.9, 0.1], [0.9, 0.1]])
    agreement = intent_agreement(p_turn, p_resp)
    assert agreement[0] > agreement[1]
    assert precision_at_k([0.9, 0.8, 0.1, 0.7], [True, False, False, True]) == 0.5
    with pytest.raises(ValueError, match="k: expected >= 1, got 0"):
        precision_at_k([0.1], [False])


def synthetic_dialogs(n_conv=120, turns=3, k=5, d=24, seed=0):
    """Turns whose responses depend on the intent and on the utterance itself (a shared direction)."""
    rng = np.random.default_rng(seed)
    intent_centres, reply_centres = rng.normal(size=(k, d)), rng.normal(size=(k, d))
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    n = n_conv * turns
    labels = rng.integers(0, k, size=n)
    u = intent_centres[labels] + 0.7 * rng.normal(size=(n, d))
    y = reply_centres[labels] + 0.6 * u @ mix + 0.5 * rng.normal(size=(n, d))
    c = rng.normal(size=(n, d))
    unit = (lambda x: x / np.linalg.norm(x, axis=1, keepdims=True))
    targets = np.eye(k)[labels]
    return unit(u), unit(c), unit(y), targets, labels, np.repeat(np.arange(n_conv), turns)


TRAIN_ROWS = 240   # conversations 0..79 train, 80..119 are held out for scoring


@pytest.fixture(scope="module")
def fitted():
    u, c, y, targets, _, groups = synthetic_dialogs()
    u, c, y, targets, groups = u[:TRAIN_ROWS], c[:TRAIN_ROWS], y[:TRAIN_ROWS].copy(), targets[:TRAIN_ROWS], groups[:TRAIN_ROWS]
    misaligned = np.zeros(len(u), bool)
    misaligned[:12] = True                       # judged misaligned: their responses belong to other turns
    y[:12] = y[-12:]
    arrays = PairArrays(u, c, y, targets, label_features=targets)
    return AlignmentModel.fit(arrays, intent_targets=targets, classes=[f"i{j}" for j in range(5)], groups=groups,
                              misaligned=misaligned, seed=0, hidden=32, epochs=5)


def test_alignment_model_scores_swapped_responses_lower(fitted):
    u, c, y, targets, _, groups = synthetic_dialogs()
    held = np.arange(TRAIN_ROWS, len(u))
    turns, sources = swap_partners(groups, held, repeats=1, seed=3)
    real = fitted.score(PairArrays(u[held], c[held], y[held], targets[held], targets[held]))
    swapped = fitted.score(PairArrays(u[turns], c[turns], y[sources], targets[turns], targets[turns]))
    truth = np.r_[np.zeros(len(held)), np.ones(len(turns))]
    p = np.r_[real.misalignment_prob, swapped.misalignment_prob]
    assert roc_auc_score(truth, p) > 0.9
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(real.alignment_score, 1 - real.misalignment_prob)   # even-odds prior
    assert real.features.shape == (len(held), len(FEATURES))
    assert fitted.report["judged_misaligned"] == 12
    assert 1 <= fitted.report["rank"] <= fitted.report["best_rank"]


def test_alignment_model_round_trips_through_plain_arrays(fitted, tmp_path):
    u, c, y, targets, _, _ = synthetic_dialogs(seed=0)
    arrays = PairArrays(u[:50], c[:50], y[:50], targets[:50], targets[:50])
    np.savez(tmp_path / "a.npz", **fitted.to_arrays())
    with np.load(tmp_path / "a.npz", allow_pickle=False) as loaded:
        again = AlignmentModel.from_arrays(loaded)
    np.testing.assert_allclose(again.score(arrays).misalignment_prob, fitted.score(arrays).misalignment_prob, atol=1e-6)
    assert again.intent_classes == [f"i{j}" for j in range(5)]


def test_representations_select_the_intent_vector():
    u, c, y, targets, _, _ = synthetic_dialogs(n_conv=5)
    arrays = PairArrays(u, c, y, targets, label_features=None)
    assert arrays.intent_vectors("embedding").shape == (15, 48)
    with pytest.raises(ValueError, match="needs label_features"):
        arrays.intent_vectors("labels")
    with pytest.raises(ValueError, match="representation: expected one of"):
        arrays.intent_vectors("nope")
    full = PairArrays(u, c, y, targets, label_features=targets)
    assert full.intent_vectors("both").shape == (15, 48 + 5)


def test_choose_alpha_scores_equal_the_full_rank_reduced_rank_fits():
    """One shared SVD for every alpha must give what a separate reduced-rank fit at full rank gives."""
    from pipeline.alignment import choose_alpha, fit_reduced_rank_ridge, rank_curve

    rng = np.random.default_rng(3)
    I, A = rng.normal(size=(80, 12)), rng.normal(size=(12, 7))
    Y = I @ A + rng.normal(scale=2.0, size=(80, 7))
    best, scores = choose_alpha(I[:60], Y[:60], I[60:], Y[60:], alphas=(0.1, 10.0, 1000.0))
    for alpha, r2 in scores.items():
        fit = fit_reduced_rank_ridge(I[:60], Y[:60], alpha=alpha)
        assert r2 == pytest.approx(float(rank_curve(fit, I[60:], Y[60:])[-1]), abs=1e-9)
    assert best == max(scores, key=scores.get) and len(set(scores.values())) == 3


def test_entity_indicators_take_the_most_likely_inside_subword_per_type():
    from types import SimpleNamespace

    from pipeline.model import entity_indicators

    tags = ["O", "B-city", "I-city", "B-date", "I-date"]
    rng = np.random.default_rng(0)
    probs = [rng.dirichlet(np.ones(5), size=n) for n in (3, 0, 5, 1)]
    arrays = SimpleNamespace(ids=list("abcd"), token_probs=probs, tag_names=tags)
    got = entity_indicators(arrays, ["city", "date", "person"])
    for i, p in enumerate(probs):
        expected = [p[:, [1, 2]].sum(1).max() if len(p) else 0.0, p[:, [3, 4]].sum(1).max() if len(p) else 0.0, 0.0]
        np.testing.assert_allclose(got[i], expected)
