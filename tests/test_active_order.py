"""The queue order the worker writes: the most uncertain turns first, no confident filler from
clusters the model is sure of, and no turn served right beside its own twin from another conversation.

Modelled on what the sample data showed: a pool with a block of identical "thanks, bye" turns the
model is sure of (P(thanks_goodbye) = 1.00) took slots of the diverse batch, and the tail of the
order opened on exact duplicates of the batch's own turns."""
from __future__ import annotations

import numpy as np

from pipeline.active import rank_pool
from pipeline.active.diversity import cluster_top_batch


def pool_with_confident_block(seed: int = 0):
    """60 uncertain rows over 20 topics (3 identical texts each) and 24 confident rows in 4 groups
    of identical "thanks" texts: embeddings, multi-label probabilities."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(24, 24))
    uncertain = np.repeat(topics[:20], 3, axis=0)                  # 3 identical turns per topic
    confident = np.repeat(topics[20:], 6, axis=0)
    embeddings = np.vstack([uncertain, confident])
    probs = np.full((84, 6), 0.01)
    probs[:60, 0] = rng.uniform(0.35, 0.65, size=60)              # a label the model cannot decide
    probs[60:, 5] = 0.999                                          # thanks_goodbye, sure
    return embeddings, probs


def test_a_cluster_the_model_is_sure_of_gives_its_place_to_an_uncertain_row():
    embeddings, probs = pool_with_confident_block()
    scores = 1.0 - np.abs(2 * probs[:, 0] - 1)                     # high for the undecided rows
    scores[60:] = 0.01
    batch = cluster_top_batch(embeddings, scores, batch_size=16, seed=0)
    assert len(batch) == 16
    assert all(i < 60 for i in batch), f"confident rows in the batch: {[int(i) for i in batch if i >= 60]}"
    assert list(scores[batch]) == sorted(scores[batch], reverse=True), "the batch is served most uncertain first"


def test_rank_pool_serves_no_confident_thanks_turn_in_the_first_batch():
    embeddings, probs = pool_with_confident_block()
    order = rank_pool(batch_size=16, probs=probs, embeddings=embeddings, multi_label=True, seed=0)
    assert sorted(order) == list(range(84))
    assert all(i < 60 for i in order[:16])


def test_the_next_rows_after_the_batch_are_not_twins_of_rows_already_queued():
    embeddings, probs = pool_with_confident_block()
    order = rank_pool(batch_size=8, probs=probs, embeddings=embeddings, multi_label=True, seed=0)
    head_topics = {tuple(embeddings[i].round(6)) for i in order[:8]}
    following = [tuple(embeddings[i].round(6)) for i in order[8:12]]
    assert not head_topics.intersection(following), "the tail opened on duplicates of the batch"
    seen = set()
    for i in order[:12]:
        key = tuple(embeddings[i].round(6))
        assert key not in seen, f"row {i} repeats an earlier text within the first 12"
        seen.add(key)
