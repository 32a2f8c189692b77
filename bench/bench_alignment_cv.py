"""Swapped-response detection on SGD, cross-validated over dialogues (issues 4 and 6).

``bench_alignment.py`` measures on one fixed 80/20 dialogue split: 861 test turns, where a dozen real
closings take most of the false positives in every repeat, so its ± (over swap repeats) understates
how much the figure depends on which dialogues were held out. This script trains the default model
(fast mode, embedding representation) K times, each time holding out one fold of the 640 SGD dev
dialogues, swaps 10% of the held-out responses between conversations (several seeds per fold), and
prints precision@k (k = number swapped) and ROC-AUC per fold and over all folds, with the test turns'
intent labels and without them. Writes bench/out/alignment_cv.json.

    python bench/bench_alignment_cv.py [--folds 5] [--repeats 10] [--rate 0.1] [--seed 0] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_alignment import _auc_pk, _mean_std, swapped_copy  # noqa: E402
from bench.datasets import load  # noqa: E402
from bench.report import run_and_report  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "alignment_cv.json"


def dialogue_folds(records: list[dict], folds: int, seed: int) -> np.ndarray:
    """Per record, its fold: dialogues shuffled with ``seed`` and dealt round-robin into ``folds``."""
    conversations = sorted({r["conversation_id"] for r in records})
    np.random.default_rng(seed).shuffle(conversations)
    fold_of = {c: i % folds for i, c in enumerate(conversations)}
    return np.array([fold_of[r["conversation_id"]] for r in records])


def evaluate_fold(train: list[dict], test: list[dict], *, repeats: int, rate: float, seed: int) -> dict:
    """Train on ``train``; combined misalignment score on ``repeats`` swapped copies of ``test``."""
    from pipeline.model import ConcordModel

    model = ConcordModel.train(train, mode="fast", seed=seed, representation="embedding")
    results: dict[str, list] = {"labelled": [], "unlabelled": []}
    for i in range(repeats):
        records, swapped, _ = swapped_copy(test, rate, seed + i)
        for setting, rows in (("labelled", records), ("unlabelled", [dict(r, intents=[]) for r in records])):
            results[setting].append(_auc_pk(model.score_pool(rows).misalignment_prob, swapped))
    return {setting: _mean_std(r) for setting, r in results.items()} | {"train_turns": len(train), "test_turns": len(test)}


def run(args) -> dict:
    from threadpoolctl import threadpool_limits

    from pipeline.encoders import configure_threads

    configure_threads(args.threads)
    records = [r for r in load("sgd", split=None) if r.get("response")]
    fold = dialogue_folds(records, args.folds, args.seed)
    per_fold = []
    with threadpool_limits(limits=args.threads):
        for k in range(args.folds):
            train = [r for r, f in zip(records, fold) if f != k]
            test = [r for r, f in zip(records, fold) if f == k]
            per_fold.append(evaluate_fold(train, test, repeats=args.repeats, rate=args.rate, seed=args.seed))
            print(f"fold {k}: p@k {per_fold[-1]['labelled']['precision_at_k_mean']:.3f}", file=sys.stderr, flush=True)
    overall = {setting: {key: float(np.mean([f[setting][f"{key}_mean"] for f in per_fold]))
                         for key in ("precision_at_k", "roc_auc")}
               | {"precision_at_k_fold_std": float(np.std([f[setting]["precision_at_k_mean"] for f in per_fold]))}
               for setting in ("labelled", "unlabelled")}
    return {"folds": args.folds, "repeats": args.repeats, "rate": args.rate, "per_fold": per_fold, "overall": overall}


def print_table(result: dict) -> None:
    print(f"SGD dev, {result['folds']}-fold by dialogue, {result['repeats']} swap repeats per fold "
          f"({result['rate']:.0%} of held-out responses swapped; k = number swapped), combined score")
    print(f"{'fold':<6} {'train':>6} {'test':>5} {'p@k labelled':>16} {'ROC-AUC':>8} {'p@k unlabelled':>16}")
    for k, f in enumerate(result["per_fold"]):
        lab, unl = f["labelled"], f["unlabelled"]
        print(f"{k:<6} {f['train_turns']:>6} {f['test_turns']:>5} {lab['precision_at_k_mean']:>8.3f} ± {lab['precision_at_k_std']:.3f}"
              f" {lab['roc_auc_mean']:>8.3f} {unl['precision_at_k_mean']:>8.3f} ± {unl['precision_at_k_std']:.3f}")
    lab, unl = result["overall"]["labelled"], result["overall"]["unlabelled"]
    print(f"{'all':<6} {'':>6} {'':>5} {lab['precision_at_k']:>8.3f} ± {lab['precision_at_k_fold_std']:.3f}"
          f" {lab['roc_auc']:>8.3f} {unl['precision_at_k']:>8.3f} ± {unl['precision_at_k_fold_std']:.3f}   (± over folds)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (1 on a shared 2-core box)")
    return run_and_report(parser.parse_args(), dataset="sgd", run=run, print_table=print_table, out=OUT)


if __name__ == "__main__":
    sys.exit(main())
