"""The listwise pair scorer: real pairs above swapped ones, and turns judged misaligned pushed down."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from pipeline.alignment import _mlp_logit, pair_features, swap_partners
from pipeline.pair_scorer import fit_pair_scorer
from tests.test_alignment import TRAIN_ROWS, synthetic_dialogs


def misalignment_logit(layers, u, c, y):
    return _mlp_logit(layers, pair_features(u, c, y))


def test_real_pairs_score_as_aligned_and_swapped_ones_as_misaligned():
    u, c, y, _, _, groups = synthetic_dialogs()
    train = slice(0, TRAIN_ROWS)
    layers = fit_pair_scorer(u[train], c[train], y[train], groups[train], hidden=32, epochs=40, seed=0, threads=1)
    held = np.arange(TRAIN_ROWS, len(u))
    turns, sources = swap_partners(groups, held, repeats=1, seed=5)
    logits = np.r_[misalignment_logit(layers, u[held], c[held], y[held]),
                   misalignment_logit(layers, u[turns], c[turns], y[sources])]
    assert roc_auc_score(np.r_[np.zeros(len(held)), np.ones(len(turns))], logits) > 0.9


def test_turns_judged_misaligned_teach_the_scorer_what_a_misfit_looks_like():
    """Every reply to intent 0 was judged misaligned (the assistant answers that intent wrongly), a
    pattern no swap shows: trained with those judgements, unseen intent-0 pairs score more misaligned
    relative to the rest than when the same rows count as aligned."""
    u, c, y, _, labels, groups = synthetic_dialogs(n_conv=160)
    train, held = np.arange(240), np.arange(240, len(u))
    judged = labels[train] == 0

    def gap(misaligned):
        layers = fit_pair_scorer(u[train], c[train], y[train], groups[train], misaligned=misaligned,
                                 hidden=32, epochs=40, seed=0, threads=1)
        logit = misalignment_logit(layers, u[held], c[held], y[held])
        return logit[labels[held] == 0].mean() - logit[labels[held] != 0].mean()

    assert gap(judged) > gap(None) + 1.0


def test_too_little_data_gives_no_scorer():
    u, c, y, _, _, groups = synthetic_dialogs(n_conv=3)
    assert fit_pair_scorer(u, c, y, groups, seed=0) == []
    assert fit_pair_scorer(u[:9], c[:9], y[:9], np.zeros(9), seed=0) == []


def test_the_factored_grid_equals_the_network_on_explicit_pair_features():
    """Training scores all combinations through a block-split first layer; the stored layers score
    explicit [u, y, u⊙y, c, c⊙y] rows. Both must be the same function."""
    import torch

    from pipeline.pair_scorer import _as_misalignment_layers, _grid_scores, _network

    torch.manual_seed(0)
    u, c, y, _, _, _ = synthetic_dialogs(n_conv=4)
    net = _network(u.shape[1], 16).eval()
    tensors = [torch.as_tensor(a, dtype=torch.float32) for a in (u, c, y)]
    rows = np.arange(len(u))
    grid = _grid_scores(net, tensors, rows).detach().numpy()
    layers = _as_misalignment_layers(net)
    for i in rows:
        explicit = -misalignment_logit(layers, np.repeat(u[i:i + 1], len(u), 0), np.repeat(c[i:i + 1], len(u), 0), y)
        np.testing.assert_allclose(grid[i], explicit, atol=1e-4)
