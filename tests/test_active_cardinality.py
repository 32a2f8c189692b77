"""Cardinality margin: among equally uncertain multi-label rows, a predicted set of the wrong size
(empty or oversized next to what labelled turns usually carry) is asked first."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.active import strategies as st
from pipeline.active.selection import select_batch
from pipeline.simulate_learners import EmbeddingLearner
from test_simulate_learners import _TableEncoder


def _two_equally_uncertain_rows() -> np.ndarray:
    """Row 0 predicts two labels, row 1 none; their per-label certainties max(p, 1 - p) are the same
    multiset, so every set-based margin ties them, and filler rows are confident two-label rows."""
    probs = np.tile([0.97, 0.97, 0.03, 0.03], (20, 1))
    probs[0] = [0.9, 0.9, 0.4, 0.1]
    probs[1] = [0.1, 0.1, 0.4, 0.1]
    return probs


def test_a_set_of_the_wrong_size_outranks_an_equally_uncertain_one():
    probs = _two_equally_uncertain_rows()
    margin = st.margin_scores(probs, multi_label=True)
    assert margin[0] == pytest.approx(margin[1])
    scores = st.cardinality_margin_scores(probs, labeled_cardinality=2.0, multi_label=True)
    assert scores.shape == (20,) and scores.min() >= 0 and scores.max() <= 1
    assert np.argmax(scores) == 1 and scores[1] > scores[0]
    assert select_batch("cardinality_margin", batch_size=1, probs=probs, multi_label=True,
                        labeled_cardinality=2.0).tolist() == [1]
    # where labelled turns usually carry no label, the two-label row is the odd one out
    assert select_batch("cardinality_margin", batch_size=1, probs=probs, multi_label=True,
                        labeled_cardinality=0.0).tolist() == [0]


def test_without_a_labelled_count_the_pool_expectation_is_used():
    probs = _two_equally_uncertain_rows()            # the filler rows expect ~2 labels per turn
    scores = st.cardinality_margin_scores(probs, multi_label=True)
    assert scores[1] > scores[0]
    emptyish = probs.copy()
    emptyish[2:] = [0.03, 0.03, 0.03, 0.03]          # now the pool expects ~0 labels per turn
    scores = st.cardinality_margin_scores(emptyish, multi_label=True)
    assert scores[0] > scores[1]


def test_single_label_rows_are_plain_local_margin():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=30)
    emb, labelled = rng.normal(size=(30, 8)), rng.normal(size=(6, 8))
    np.testing.assert_allclose(
        st.cardinality_margin_scores(probs, embeddings=emb, labeled_embeddings=labelled, labeled_cardinality=3.0),
        st.local_margin_scores(probs, embeddings=emb, labeled_embeddings=labelled))


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "two", True])
def test_cardinality_margin_validates_the_labelled_count(bad):
    with pytest.raises(ValueError, match="labeled_cardinality: expected a number >= 0"):
        st.cardinality_margin_scores(_two_equally_uncertain_rows(), labeled_cardinality=bad, multi_label=True)
    assert st.cardinality_margin_scores(np.zeros((0, 3)), multi_label=True).shape == (0,)


def test_the_simulated_learner_reports_the_labelled_turns_mean_label_count():
    rng = np.random.default_rng(1)
    sets = [["a"], ["a", "b"], ["a", "b", "c"], [], ["b"], ["c", "a"]] * 5
    records = [{"id": str(i), "text": f"t{i}", "intents": s} for i, s in enumerate(sets)]
    encoder = _TableEncoder({r["text"]: rng.normal(size=8) for r in records})
    learner = EmbeddingLearner(records, records[:6], encoder=encoder)
    labelled = np.array([0, 1, 2, 3])                # 1 + 2 + 3 + 0 labels
    learner.fit(labelled, seed=0)
    arrays = learner.pool_arrays(np.arange(4, 30), labelled_idx=labelled)
    assert arrays["labeled_cardinality"] == pytest.approx(1.5)
    assert select_batch("cardinality_margin+adaptive", batch_size=3, seed=0, **arrays).shape == (3,)
