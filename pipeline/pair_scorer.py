"""The alignment model's pair scorer: does this response belong to this user turn, after this context?

A one-hidden-layer network over [u, y, u⊙y, c, c⊙y] (``pipeline.alignment.pair_features``), trained
*listwise*: in a batch of real pairs, each turn's own response must outscore every other response of
the batch, and each response its own turn (softmax cross-entropy both ways; pairs from the same
conversation are masked, they may fit as well). The binary classifier it replaces saw four swapped
responses per real pair; here every pair meets the whole batch as negatives for the same cost. On SGD
(``bench/bench_alignment.py``, ``bench/bench_alignment_cv.py``) that lifted the combined score's
swapped-response precision@k from 0.890 to 0.899 on the fixed split, from 0.864 to 0.878 over five
folds, and from 0.836 to 0.862 on turns without intent labels.

Turns judged misaligned enter as a pairwise term: their response must score below the batch's real
pairs. The result is plain (W, b) arrays whose output is the logit of "misaligned" (the scorer's
output negated), the format ``pipeline.alignment._mlp_logit`` evaluates and the model bundle stores.
"""
from __future__ import annotations

import numpy as np

EPOCHS, BATCH, MAX_STEPS = 20, 32, 1600     # steps capped so a 10k-pair pool still fits in seconds
LEARNING_RATE, WEIGHT_DECAY, DROPOUT = 1e-3, 1e-2, 0.1


def fit_pair_scorer(utterance, context, response, groups, *, misaligned=None, hidden: int = 256,
                    epochs: int = EPOCHS, batch: int = BATCH, seed: int = 0, threads: int | None = None,
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train on the rows' (utterance, context, response) embeddings; ``groups`` are conversation ids;
    ``misaligned`` marks rows judged misaligned (their pair is a negative). [] when there is too little.
    ``threads``: torch threads while training (restored after); None keeps the process's setting, which
    the worker and the benches choose deliberately (``pipeline.encoders.configure_threads``)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        return _train(utterance, context, response, groups, misaligned, hidden=hidden, epochs=epochs,
                      batch=batch, seed=seed)
    finally:
        torch.set_num_threads(previous)


def _train(utterance, context, response, groups, misaligned, *, hidden, epochs, batch, seed):
    import torch

    groups = np.asarray(groups)
    misaligned = np.zeros(len(groups), bool) if misaligned is None else np.asarray(misaligned, bool)
    if (~misaligned).sum() < 10 or len(np.unique(groups[~misaligned])) < 2 or hidden <= 0:
        return []
    torch.manual_seed(seed)
    tensors = [torch.as_tensor(np.asarray(a, np.float32)) for a in (utterance, context, response)]
    net = _network(tensors[0].shape[1], hidden)
    optimiser = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    for rows, judged in _batches(groups, misaligned, epochs=epochs, batch=batch, seed=seed):
        scores = _grid_scores(net, tensors, rows)
        loss = _listwise_loss(scores, rows, groups) + _judged_loss(net, tensors, judged, scores.diagonal())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return _as_misalignment_layers(net)


def _network(width: int, hidden: int):
    import torch

    return torch.nn.Sequential(torch.nn.Linear(5 * width, hidden), torch.nn.ReLU(), torch.nn.Dropout(DROPOUT),
                               torch.nn.Linear(hidden, 1))


def _batches(groups: np.ndarray, misaligned: np.ndarray, *, epochs: int, batch: int, seed: int):
    """(aligned rows, judged-misaligned rows) per step: shuffled epochs, at most MAX_STEPS steps."""
    rng = np.random.default_rng(seed)
    aligned, judged = np.flatnonzero(~misaligned), np.flatnonzero(misaligned)
    per_epoch = max(1, -(-len(aligned) // batch))
    judged_per_step = -(-len(judged) // per_epoch) if len(judged) else 0
    for step in range(min(epochs * per_epoch, MAX_STEPS)):
        if step % per_epoch == 0:
            order, judged_order = rng.permutation(aligned), rng.permutation(judged)
        at = step % per_epoch
        rows = order[at * batch:(at + 1) * batch]
        if len(rows) < 2:
            continue
        yield rows, judged_order[at * judged_per_step:(at + 1) * judged_per_step]


def _grid_scores(net, tensors, rows: np.ndarray):
    """Scores of every (turn, response) combination of ``rows``: (len(rows), len(rows)).

    The first layer over [u, y, u⊙y, c, c⊙y] is split by block, so the parts that depend on the turn
    alone or the response alone are computed once per row, not once per combination: 2/5 of the
    dense cost, the same network."""
    import torch

    u, c, y = tensors[0][rows], tensors[1][rows], tensors[2][rows]
    w_u, w_y, w_uy, w_c, w_cy = net[0].weight.split(u.shape[1], dim=1)
    turn_part = u @ w_u.T + c @ w_c.T + net[0].bias
    response_part = y @ w_y.T
    products = torch.cat([u[:, None, :] * y[None, :, :], c[:, None, :] * y[None, :, :]], dim=2)
    hidden = turn_part[:, None, :] + response_part[None, :, :] + products @ torch.cat([w_uy, w_cy], dim=1).T
    return net[1:](hidden).squeeze(-1)


def _own_pairs(tensors, rows):
    """[u, y, u⊙y, c, c⊙y] of each row with its own response: (len(rows), 5d)."""
    import torch

    u, c, y = tensors[0][rows], tensors[1][rows], tensors[2][rows]
    return torch.cat([u, y, u * y, c, c * y], dim=1)


def _listwise_loss(scores, rows: np.ndarray, groups: np.ndarray):
    """Cross-entropy of each turn's own response among the batch's responses (``scores``, the batch's
    grid), and the reverse."""
    import torch

    same = torch.as_tensor(groups[rows][:, None] == groups[rows][None, :]) & ~torch.eye(len(rows), dtype=torch.bool)
    scores = scores.masked_fill(same, -1e9)
    target = torch.arange(len(rows))
    return torch.nn.functional.cross_entropy(scores, target) + torch.nn.functional.cross_entropy(scores.T, target)


def _judged_loss(net, tensors, judged: np.ndarray, real_scores):
    """A judged-misaligned pair must score below the batch's real pairs (``real_scores``, the grid's
    diagonal), as a pairwise logistic loss."""
    import torch

    if len(judged) == 0:
        return torch.zeros(())
    judged_scores = net(_own_pairs(tensors, judged)).squeeze(-1)
    return torch.nn.functional.softplus(judged_scores[:, None] - real_scores[None, :]).mean()


def _as_misalignment_layers(net) -> list[tuple[np.ndarray, np.ndarray]]:
    """The trained network as [(W1, b1), (W2, b2)] with the output negated: a logit of "misaligned"."""
    net.eval()
    first, last = net[0], net[3]
    return [(first.weight.detach().numpy().T.astype(np.float32), first.bias.detach().numpy().astype(np.float32)),
            ((-last.weight.detach().numpy().T).astype(np.float32), (-last.bias.detach().numpy()).astype(np.float32))]
