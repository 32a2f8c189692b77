"""Rarity-weighted uncertainty: a doubt about a rare label outranks the same doubt about a common one."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.active import strategies as st
from pipeline.active.selection import select_batch


def _pool_with_a_common_and_a_rare_label() -> np.ndarray:
    """Label 0 is present in most pool rows, label 1 in almost none; rows 0 and 1 are each unsure
    about exactly one of them, by the same amount."""
    probs = np.zeros((40, 2))
    probs[:, 0] = 0.95
    probs[:, 1] = 0.02
    probs[0] = [0.5, 0.02]     # unsure about the common label
    probs[1] = [0.95, 0.5]     # unsure about the rare label
    return probs


def test_multi_label_doubt_about_a_rare_label_ranks_first():
    probs = _pool_with_a_common_and_a_rare_label()
    scores = st.rarity_weighted_scores(probs, multi_label=True)
    assert scores.shape == (40,) and scores.min() >= 0 and scores.max() <= 1
    assert np.argmax(scores) == 1 and scores[1] > scores[0] > np.median(scores)
    assert select_batch("rarity", batch_size=1, probs=probs, multi_label=True).tolist() == [1]
    # swap which label is rare: the pick follows the data, not the column
    swapped = probs[:, ::-1].copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    assert np.argmax(st.rarity_weighted_scores(swapped, multi_label=True)) == 0  # row 0 now doubts the rare one


def test_single_label_weights_margin_by_the_class_rarity():
    probs = np.tile([0.9, 0.05, 0.05], (30, 1))
    probs[0] = [0.45, 0.10, 0.45]   # same margin as row 1 ...
    probs[1] = [0.45, 0.45, 0.10]
    probs[2:6] = [0.05, 0.9, 0.05]  # ... but class 1 is commoner than class 2 in the pool
    scores = st.rarity_weighted_scores(probs)
    assert st.margin_scores(probs)[0] == pytest.approx(st.margin_scores(probs)[1])
    assert scores[0] > scores[1]
    assert np.argsort(-scores)[:2].tolist() == [0, 1]


def test_rarity_validates_its_input():
    with pytest.raises(ValueError, match="summing to 1"):
        st.rarity_weighted_scores(np.array([[0.5, 0.2]]))
    assert st.rarity_weighted_scores(np.zeros((0, 3)), multi_label=True).shape == (0,)


def test_second_best_prefers_a_two_way_confusion_over_a_flat_guess():
    probs = np.array([
        [0.48, 0.46, 0.02, 0.02, 0.02],   # two-way confusion: 2 p2 = 0.92
        [0.20, 0.20, 0.20, 0.20, 0.20],   # flat: margin's top pick (margin 0), 2 p2 = 0.4
        [0.90, 0.04, 0.02, 0.02, 0.02],   # confident
    ])
    scores = st.second_best_scores(probs)
    np.testing.assert_allclose(scores, [0.92, 0.40, 0.08])
    assert np.argmax(st.margin_scores(probs)) == 1            # what margin would ask
    assert select_batch("second_best", batch_size=1, probs=probs).tolist() == [0]
    # multi-label: a set with one doubtful label beats a set where every label is a guess
    multi = np.array([[0.5, 0.99, 0.01], [0.5, 0.5, 0.5], [0.99, 0.01, 0.99]])
    ml = st.second_best_scores(multi, multi_label=True)
    assert np.argmax(ml) == 0 and ml[2] < ml[1] < ml[0] and ml.max() <= 1


def test_local_margin_discounts_flat_rows_only_next_to_labelled_turns():
    probs = np.array([
        [0.2, 0.2, 0.2, 0.2, 0.2],   # flat, far from every label: unexplored -> keep margin's score
        [0.2, 0.2, 0.2, 0.2, 0.2],   # flat, beside a labelled turn: the text does not decide it
        [0.5, 0.46, 0.02, 0.01, 0.01],
    ])
    pool = np.array([[0.0, 1.0], [1.0, 0.05], [0.7, 0.7]])
    labelled = np.array([[1.0, 0.0]])
    scores = st.local_margin_scores(probs, embeddings=pool, labeled_embeddings=labelled)
    assert scores[0] == pytest.approx(1.0)               # farther than the median row: plain margin
    assert scores[1] < 0.45 and scores[2] > scores[1]
    assert scores[2] == pytest.approx(st.margin_scores(probs)[2])   # the median row: no discount
    # the same rows with the labelled turn moved beside row 0 swap the order of the flat rows
    moved = st.local_margin_scores(probs, embeddings=pool, labeled_embeddings=np.array([[0.0, 1.0]]))
    assert moved[1] > moved[0]
    # no labelled embeddings (e.g. the worker before it passes them): plain margin
    np.testing.assert_allclose(st.local_margin_scores(probs, embeddings=pool), st.margin_scores(probs))
    with pytest.raises(ValueError, match=r"expected \(n, d\) and \(m, d\)"):
        st.local_margin_scores(probs, embeddings=pool, labeled_embeddings=np.ones((1, 3)))


def test_nearest_cosine_matches_a_brute_force_loop():
    rng = np.random.default_rng(3)
    x, ref = rng.normal(size=(50, 4)), rng.normal(size=(7, 4))
    brute = [max(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) for b in ref) for a in x]
    np.testing.assert_allclose(st.nearest_cosine(x, ref, chunk=8), brute, rtol=1e-9)


def test_default_strategy_reads_the_labelled_turns_when_given():
    from pipeline.active import DEFAULT_STRATEGY

    rng = np.random.default_rng(0)
    flat = np.full((20, 4), 0.25)                                    # rows 0-19: flat
    confused = np.tile([0.55, 0.40, 0.03, 0.02], (20, 1))            # rows 20-39: two-way confusion
    probs = np.vstack([flat, confused])
    near = np.array([1.0, 0.0, 0.0]) + rng.normal(scale=0.01, size=(20, 3))
    far = np.array([0.0, 1.0, 0.0]) + rng.normal(scale=0.3, size=(20, 3))
    embeddings = np.vstack([near, far])
    labelled = np.array([[1.0, 0.0, 0.0]])                           # beside the flat rows
    with_labels = select_batch(DEFAULT_STRATEGY, batch_size=2, probs=probs, embeddings=embeddings,
                               labeled_embeddings=labelled)
    without = select_batch(DEFAULT_STRATEGY, batch_size=2, probs=probs, embeddings=embeddings)
    assert set(with_labels.tolist()) <= set(range(20, 40))           # flat rows beside labels: skipped
    assert set(without.tolist()) <= set(range(20))                   # plain margin asks for them


def test_adaptive_spread_follows_the_label_kind():
    rng = np.random.default_rng(2)
    embeddings = rng.normal(size=(120, 5))
    probs = rng.dirichlet([0.5] * 4, size=120)
    multi = rng.random((120, 4))
    scores = st.margin_scores(probs)
    scores_ml = st.margin_scores(multi, multi_label=True)
    from pipeline.active import diversity as div

    single = select_batch("margin+adaptive", batch_size=6, probs=probs, embeddings=embeddings, seed=3)
    assert single.tolist() == div.prefilter_cluster_batch(embeddings, scores, batch_size=6, seed=3).tolist()
    ml = select_batch("margin+adaptive", batch_size=6, probs=multi, embeddings=embeddings, multi_label=True, seed=3)
    assert ml.tolist() == div.cluster_top_batch(embeddings, scores_ml, batch_size=6, seed=3).tolist()
    assert single.tolist() != div.cluster_top_batch(embeddings, scores, batch_size=6, seed=3).tolist()
