"""Active-learning strategies on synthetic arrays: each picks what its definition says it should."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.active import diversity as div
from pipeline.active import strategies as st
from pipeline.active.selection import (
    BASE_STRATEGIES, DEFAULT_STRATEGY, DIVERSITY_METHODS, parse_strategy, rank_pool, select_batch,
)


def _dirichlet(n, k, seed=0, alpha=0.3):
    return np.random.default_rng(seed).dirichlet([alpha] * k, size=n)


def test_margin_picks_the_rows_whose_top_two_classes_are_closest():
    probs = np.array([
        [0.90, 0.05, 0.05],   # confident
        [0.46, 0.44, 0.10],   # top two nearly tied -> margin's first pick
        [0.40, 0.30, 0.30],   # flat: least confident / highest entropy, but margin 0.10
        [0.70, 0.20, 0.10],
    ])
    assert select_batch("margin", batch_size=1, probs=probs).tolist() == [1]
    assert select_batch("least_confidence", batch_size=1, probs=probs).tolist() == [2]
    assert select_batch("entropy", batch_size=1, probs=probs).tolist() == [2]
    assert set(select_batch("margin", batch_size=2, probs=probs).tolist()) == {1, 2}


def test_scores_are_in_unit_interval_and_order_matches_definitions():
    probs = _dirichlet(200, 5)
    for measure in st.MEASURES:
        s = st.uncertainty_scores(probs, measure=measure)
        assert s.shape == (200,) and s.min() >= -1e-9 and s.max() <= 1 + 1e-9
    top2 = -np.sort(-probs, axis=1)[:, :2]
    np.testing.assert_allclose(st.margin_scores(probs), 1 - (top2[:, 0] - top2[:, 1]))
    uniform = np.full((1, 5), 0.2)
    assert st.entropy_scores(uniform)[0] == pytest.approx(1.0)
    assert st.least_confidence_scores(uniform)[0] == pytest.approx(1.0)


def test_multi_label_scores_measure_uncertainty_about_the_label_set():
    probs = np.array([
        [0.99, 0.01, 0.02],   # every label decided
        [0.55, 0.01, 0.98],   # one label near the 0.5 threshold
        [0.80, 0.20, 0.75],   # several moderately unsure
    ])
    for measure in st.MEASURES:
        s = st.uncertainty_scores(probs, measure=measure, multi_label=True)
        assert np.argmin(s) == 0, measure
    assert np.argmax(st.margin_scores(probs, multi_label=True)) == 1
    # least confidence = P(most likely label set is wrong) under independence
    expected = 1 - 0.8 * 0.8 * 0.75
    assert st.least_confidence_scores(probs, multi_label=True)[2] == pytest.approx(expected, abs=1e-9)
    assert select_batch("margin", batch_size=1, probs=probs, multi_label=True).tolist() == [1]


def test_probability_validation_says_expected_and_actual():
    with pytest.raises(ValueError, match="summing to 1.*got row 1 summing to 0.5000"):
        st.margin_scores(np.array([[0.5, 0.5], [0.25, 0.25]]))
    with pytest.raises(ValueError, match=r"expected a 2-d \(n, k\) array, got shape \(3,\)"):
        st.entropy_scores(np.array([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match=r"expected values in \[0, 1\]"):
        st.margin_scores(np.array([[1.5, -0.5]]), multi_label=True)
    with pytest.raises(ValueError, match="expected one of"):
        st.uncertainty_scores(_dirichlet(3, 2), measure="variance")
    with pytest.raises(ValueError, match="expected a positive integer, got 0"):
        select_batch("margin", batch_size=0, probs=_dirichlet(3, 2))
    with pytest.raises(ValueError, match="same number of rows"):
        select_batch("margin", batch_size=1, probs=_dirichlet(3, 2), embeddings=np.zeros((4, 2)))


def test_strategy_names_parse_and_reject_unknown_parts():
    assert parse_strategy(DEFAULT_STRATEGY).base in BASE_STRATEGIES
    assert parse_strategy("entropy+cluster").diversity == "cluster"
    with pytest.raises(ValueError, match="expected a base in"):
        parse_strategy("smart")
    with pytest.raises(ValueError, match="expected a diversity step in"):
        parse_strategy("margin+magic")
    with pytest.raises(ValueError, match="needs a scored base"):
        parse_strategy("random+cluster")


def test_token_uncertainty_finds_the_turn_with_a_doubtful_tag():
    sure = np.tile([[0.98, 0.01, 0.01]], (6, 1))
    doubtful = sure.copy()
    doubtful[3] = [0.45, 0.50, 0.05]
    scores = st.token_uncertainty_scores([sure, doubtful, np.zeros((0, 3))])
    assert np.argmax(scores) == 1 and scores[2] == 0.0
    mean = st.token_uncertainty_scores([sure, doubtful], reduce="mean")
    assert mean[1] < scores[1]


def test_multi_head_combines_normalised_heads():
    n = 50
    intent = np.tile([[0.97, 0.02, 0.01]], (n, 1))
    sentiment = np.tile([[0.98, 0.02]], (n, 1))
    tokens = [np.tile([[0.99, 0.01]], (4, 1)) for _ in range(n)]
    intent[7] = [0.5, 0.49, 0.01]         # only the intent head is unsure here
    tokens[21] = np.array([[0.99, 0.01], [0.5, 0.5], [0.99, 0.01], [0.99, 0.01]])
    sentiment[33] = [0.51, 0.49]
    scores = st.multi_head_scores(intent, token_probs=tokens, sentiment_probs=sentiment)
    assert set(np.argsort(-scores)[:3].tolist()) == {7, 21, 33}
    only_entities = st.multi_head_scores(intent, token_probs=tokens, sentiment_probs=sentiment,
                                         weights={"intent": 0, "sentiment": 0})
    assert np.argmax(only_entities) == 21


def test_alignment_driven_picks_verdicts_closest_to_half():
    p = np.array([0.02, 0.97, 0.55, np.nan, 0.30])
    s = st.alignment_scores(p)
    assert np.argmax(s) == 2 and s[3] == 0.0
    assert select_batch("alignment_driven", batch_size=2, misalignment_probs=p).tolist() == [2, 4]


def _three_clusters(per=40, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0]])
    x = np.concatenate([c + rng.normal(scale=0.3, size=(per, 3)) for c in centres])
    return x, np.repeat(np.arange(3), per)


@pytest.mark.parametrize("diversity", DIVERSITY_METHODS)
def test_diverse_batch_covers_all_clusters_even_when_one_cluster_is_most_uncertain(diversity):
    x, cluster = _three_clusters()
    # cluster 0 is far more uncertain: plain top-k margin would take all three from it
    probs = np.where(cluster[:, None] == 0, [0.5, 0.5], [0.7, 0.3]) + 0.0
    probs[:, 0] += np.random.default_rng(2).uniform(0, 0.05, len(x)) * (cluster != 0)
    probs[:, 1] = 1 - probs[:, 0]
    plain = select_batch("margin", batch_size=3, probs=probs, embeddings=x)
    assert set(cluster[plain]) == {0}
    batch = select_batch(f"margin+{diversity}", batch_size=3, probs=probs, embeddings=x, seed=3)
    if diversity in ("prefilter", "adaptive"):  # (adaptive = prefilter on single-label rows)
        # only looks at the top beta*k uncertain rows: all in cluster 0
        assert len(set(batch.tolist())) == 3
    else:
        assert set(cluster[batch]) == {0, 1, 2}


@pytest.mark.parametrize("method", ["representative", "kmeans_pp", "k_center"])
def test_cold_start_without_a_model_samples_every_cluster(method):
    x, cluster = _three_clusters(seed=4)
    batch = select_batch("margin", batch_size=3, embeddings=x, cold_start=method, seed=5)
    assert len(set(batch.tolist())) == 3 and set(cluster[batch]) == {0, 1, 2}


def test_coreset_moves_away_from_what_is_labelled():
    x, cluster = _three_clusters(seed=6)
    labeled = x[cluster != 2][:10]
    batch = select_batch("coreset", batch_size=1, embeddings=x[cluster == 2].tolist() + x[cluster != 2].tolist(),
                         labeled_embeddings=np.concatenate([labeled, x[cluster == 0]]))
    assert batch[0] < 40  # a row of the unlabelled third cluster (listed first)


def test_badge_prefers_uncertain_rows_and_spreads_over_clusters():
    x, cluster = _three_clusters(seed=7)
    probs = np.tile([0.999, 0.001], (len(x), 1))
    unsure = np.array([3, 45, 90])  # one unsure row per cluster
    probs[unsure] = [0.5, 0.5]
    # confident rows all have ~zero gradients, so they collapse to one point near the origin:
    # at most one of them is drawn, the other picks are the unsure row of every cluster
    for seed in range(5):
        batch = div.badge_batch(probs, x, batch_size=4, seed=seed)
        assert set(unsure.tolist()) <= set(batch.tolist()), seed
        assert batch[0] in unsure  # BADGE starts from the largest gradient


def test_rank_pool_is_a_permutation_led_by_the_batch():
    x, _ = _three_clusters(seed=8)
    probs = _dirichlet(len(x), 4, seed=8)
    for strategy in ("random", "margin", "margin+cluster", "badge", "coreset", DEFAULT_STRATEGY):
        order = rank_pool(strategy, batch_size=5, probs=probs, embeddings=x, seed=1)
        assert sorted(order.tolist()) == list(range(len(x))), strategy
        batch = select_batch(strategy, batch_size=5, probs=probs, embeddings=x, seed=1)
        assert order[:5].tolist() == batch.tolist(), strategy
    order = rank_pool("margin", batch_size=5, probs=probs)
    scores = st.margin_scores(probs)[order]
    assert (np.diff(scores) <= 1e-12).all()


def test_batches_are_seeded_and_distinct():
    x, _ = _three_clusters(seed=9)
    probs = _dirichlet(len(x), 3, seed=9)
    for name in ("random", "margin+kmeans_pp", "badge", DEFAULT_STRATEGY):
        a = select_batch(name, batch_size=8, probs=probs, embeddings=x, seed=11)
        b = select_batch(name, batch_size=8, probs=probs, embeddings=x, seed=11)
        assert a.tolist() == b.tolist() and len(set(a.tolist())) == 8, name
    big = select_batch("margin+cluster", batch_size=500, probs=probs, embeddings=x)
    assert sorted(big.tolist()) == list(range(len(x)))


def test_bald_prefers_disagreement_over_shared_ambiguity():
    agree_flat = [[0.34, 0.33, 0.33]] * 3                       # ambiguous for everyone
    disagree = [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]]
    agree_sure = [[0.95, 0.03, 0.02]] * 3
    committee = np.stack([np.array([a, d, s]) for a, d, s in zip(agree_flat, disagree, agree_sure)])
    scores = st.committee_scores(committee)
    assert np.argmax(scores) == 1 and scores[0] < 1e-3 and scores[2] < 1e-3
    assert np.argmax(st.entropy_scores(committee.mean(axis=0))) in (0, 1)  # entropy can't tell them apart
    assert select_batch("bald", batch_size=1, committee_probs=committee).tolist() == [1]
    multi = st.committee_scores(np.array([[[0.9, 0.1]], [[0.1, 0.1]]]), multi_label=True)
    assert multi[0] > 0.1
    with pytest.raises(ValueError, match=r"expected \(m >= 2, n, k\)"):
        st.committee_scores(committee[:1])
