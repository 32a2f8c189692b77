"""Active learning: which unlabelled turns teach the model most.

Pure functions over arrays (probabilities, embeddings) -> scores or row indices; no model, no store.
``select_batch`` picks the next batch, ``rank_pool`` orders the whole pool for the precomputed queue.
"""
from pipeline.active.selection import (
    BASE_STRATEGIES,
    COLD_START_METHODS,
    DEFAULT_COLD_START,
    DEFAULT_STRATEGY,
    DIVERSITY_METHODS,
    parse_strategy,
    rank_pool,
    select_batch,
)
from pipeline.active.strategies import (
    alignment_scores,
    cardinality_margin_scores,
    entropy_scores,
    focused_margin_scores,
    least_confidence_scores,
    local_margin_scores,
    margin_scores,
    multi_head_scores,
    rarity_weighted_scores,
    second_best_scores,
    token_uncertainty_scores,
    uncertainty_scores,
)

__all__ = [
    "BASE_STRATEGIES", "COLD_START_METHODS", "DEFAULT_COLD_START", "DEFAULT_STRATEGY",
    "DIVERSITY_METHODS", "alignment_scores", "cardinality_margin_scores", "entropy_scores",
    "focused_margin_scores", "least_confidence_scores", "local_margin_scores", "margin_scores",
    "multi_head_scores", "parse_strategy", "rank_pool", "rarity_weighted_scores", "second_best_scores",
    "select_batch", "token_uncertainty_scores", "uncertainty_scores",
]
