"""How many labels could *any* selection save on a data set? An oracle upper bound for issue 5's target.

The same loop as ``pipeline.simulate`` (learner, label steps, seeds, cold start), but each batch is
chosen by a look-ahead oracle that peeks at the answers: it tries 15 candidate batches (12 random, and
three built from the true labels: rows the current model gets wrong spread by clustering; rows whose
true labels are rarest so far; wrong rows, rarest labels first), fits the learner on each, and keeps
the batch that scores best, on held-out pool rows (``--mode pool``) or on the test set itself
(``--mode test``: optimistic, it overfits the test set). No honest strategy can beat ``test`` mode by
much, so if it needs more than half of random's labels to reach 95% of full-data accuracy, a 50%
saving is out of reach for this pool and learner. Random runs in the same loop as the baseline.

    python bench/bench_active_ceiling.py --dataset nlupp --mode test --budget 875 --repeats 3
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench import datasets  # noqa: E402
from bench.bench_active import DATASET_SETTINGS, intent_only  # noqa: E402
from pipeline.active import diversity  # noqa: E402
from pipeline.simulate import LoopSettings, _initial_batch, label_steps  # noqa: E402
from pipeline.simulate_learners import EmbeddingLearner, intent_metrics  # noqa: E402

RANDOM_CANDIDATES = 12


def is_wrong(learner, rows: np.ndarray) -> np.ndarray:
    """Does the current model get these pool rows wrong (exact label set)? Peeks at the true labels."""
    miss = learner._predict(learner.pool_embeddings[rows]) != learner.y_pool[rows]
    return miss.any(axis=1) if miss.ndim == 2 else miss


def wrong_rows(learner, lab, rest, k, rng):
    """Rows the current model gets wrong, spread over the pool by clustering."""
    wrong = is_wrong(learner, rest).astype(float)
    return diversity.cluster_top_batch(learner.pool_embeddings[rest], wrong + 0.01 * rng.random(len(rest)),
                                       batch_size=k, seed=int(rng.integers(1 << 31)))


def rare_labels(learner, lab, rest, k, rng, *, wrong_only: bool = False):
    """Rows whose true labels are least represented among the labelled ones (optionally wrong rows first)."""
    y = learner.y_pool if learner.multi_label else np.eye(len(learner.classes))[learner.y_pool]
    score = (y[rest] / (1.0 + y[lab].sum(axis=0))).sum(axis=1) + 1e-3 * rng.random(len(rest))
    if wrong_only:
        score += 10.0 * is_wrong(learner, rest)
    return np.argsort(-score)[:k]


def lookahead_batch(learner, lab, rest, k, seed, *, mode: str, fit_seed: int):
    """The candidate batch whose refit scores best (pool: held-out pool rows; test: the test set); each
    refit uses the loop's own ``fit_seed``, so in test mode the chosen batch's score is the curve's next point."""
    rng = np.random.default_rng(seed)
    candidates = [rng.permutation(len(rest))[:k] for _ in range(RANDOM_CANDIDATES)]
    candidates += [np.asarray(wrong_rows(learner, lab, rest, k, rng)), rare_labels(learner, lab, rest, k, rng),
                   rare_labels(learner, lab, rest, k, rng, wrong_only=True)]
    unused = np.ones(len(rest), bool)
    for c in candidates:
        unused[c] = False
    base, scored, head = np.flatnonzero(lab), [], learner.head
    for c in candidates:
        learner.fit(np.concatenate([base, rest[c]]), seed=fit_seed)
        if mode == "test":
            scored.append(learner.evaluate()["intent_accuracy"])
        else:
            held = rest[unused]
            scored.append(intent_metrics(learner.y_pool[held], learner._predict(learner.pool_embeddings[held]),
                                         multi_label=learner.multi_label)["intent_accuracy"])
    learner.head = head
    return candidates[int(np.argmax(scored))]


def random_batch(learner, lab, rest, k, seed, *, mode: str, fit_seed: int):
    return np.random.default_rng(seed).permutation(len(rest))[:k]


def curve(learner, settings: LoopSettings, pick, *, mode: str) -> tuple[list[int], np.ndarray]:
    """Mean exact-set accuracy over repeats at each label step, as ``pipeline.simulate`` measures it
    (random starts from a random seed set, the oracle from the diverse cold start, as strategies do)."""
    steps, curves = label_steps(learner.n_pool, settings), []
    for r in range(settings.repeats):
        seed = settings.seed + 1000 * r
        learner.reset()     # each session starts cold, as in pipeline.simulate.run_once
        lab = np.zeros(learner.n_pool, bool)
        lab[_initial_batch("random" if pick is random_batch else "margin", learner, settings, seed)] = True
        accuracy = []
        for i in range(len(steps)):
            learner.fit(np.flatnonzero(lab), seed=seed)
            accuracy.append(learner.evaluate()["intent_accuracy"])
            if i + 1 < len(steps):
                rest = np.flatnonzero(~lab)
                batch = pick(learner, lab, rest, steps[i + 1] - int(lab.sum()), seed + i + 1, mode=mode, fit_seed=seed)
                lab[rest[batch]] = True
        curves.append(accuracy)
    return steps, np.mean(curves, axis=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="nlupp", choices=sorted(DATASET_SETTINGS))
    parser.add_argument("--mode", default="test", choices=("test", "pool"))
    parser.add_argument("--budget", type=int, default=875)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not datasets.available(args.dataset):
        print(f"{args.dataset} not found under ../shared/data; nothing to measure", file=sys.stderr)
        return 1
    from threadpoolctl import threadpool_limits

    from pipeline.encoders import configure_threads, load_encoder

    configure_threads(1)
    pool, test = (intent_only(datasets.load(args.dataset, split=s)) for s in ("train", "test"))
    learner = EmbeddingLearner(pool, test, encoder=load_encoder(None))
    learner.fit(np.arange(learner.n_pool), seed=0)
    target = 0.95 * learner.evaluate()["intent_accuracy"]
    settings = LoopSettings(repeats=args.repeats, **{**DATASET_SETTINGS[args.dataset], "budget": args.budget})
    print(f"{args.dataset}: 95% of full-data exact-set accuracy = {target:.4f}; {args.repeats} repeats")
    with threadpool_limits(limits=1):
        for name, pick in (("random", random_batch), (f"look-ahead oracle ({args.mode})", lookahead_batch)):
            steps, mean = curve(learner, settings, pick, mode=args.mode)
            reach = next((n for n, v in zip(steps, mean) if v >= target), None)
            print(f"{name:<28} reaches it at {reach or f'> {steps[-1]}'} labels;  "
                  + "  ".join(f"{n}:{v:.3f}" for n, v in zip(steps, mean)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
