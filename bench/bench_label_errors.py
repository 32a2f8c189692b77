"""How well ``find-errors`` finds flipped intent labels (issue 6): precision@k and recall@2k.

On a public intent set (default Bitext, 27 intents, ~4.5k turns -- BANKING77-sized in turns per
intent) we flip 5% of the intent labels ourselves, run the out-of-fold audit exactly as
``concord find-errors`` does, and measure, with k = the number of flips:
  precision@k  = share of the k highest-ranked rows that are flips          (target >= 0.95 random)
  recall@2k    = share of the flips among the 2k highest-ranked rows
The audit is ``rank_label_errors``'s: heads with intent_C = AUDIT_INTENT_C, two passes (the second
retrains without the first pass's suspects); pass-1 figures are kept in the JSON for comparison.
Two noise models: flips to a random other intent, and flips between the most-confused intent pairs
(found from a clean out-of-fold run; harder, target >= 0.8). Every ranking method cleanlab offers
is scored on the same out-of-fold probabilities. Prints a table; writes bench/out/label_errors.json.

    python bench/bench_label_errors.py [--dataset bitext] [--rate 0.05] [--folds 5] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.datasets import available, load  # noqa: E402
from pipeline import label_errors as LE  # noqa: E402
from pipeline.label_errors_oof import out_of_fold  # noqa: E402

OUT = REPO / "bench" / "out" / "label_errors.json"


def single_intent(records: list[dict]) -> list[dict]:
    return [dict(r, id=r.get("id") or f"row-{i}") for i, r in enumerate(records) if len(r.get("intents") or []) == 1]


def flip_random(records: list[dict], rate: float, rng) -> tuple[list[dict], set]:
    intents = sorted({r["intents"][0] for r in records})
    chosen = rng.choice(len(records), int(round(rate * len(records))), replace=False)
    out = [dict(r, entities=[], sentiment=None) for r in records]
    for i in chosen:
        others = [x for x in intents if x != out[i]["intents"][0]]
        out[i]["intents"] = [others[rng.integers(len(others))]]
    return out, {out[i]["id"] for i in chosen}


def confused_pairs(oof, *, min_members: int) -> list[tuple[str, str]]:
    """Disjoint intent pairs by out-of-fold confusion (both directions), until they hold ``min_members`` turns."""
    k = len(oof.classes)
    given = np.asarray(oof.given)
    matrix = np.zeros((k, k), int)
    np.add.at(matrix, (given, oof.probs.argmax(1)), 1)
    sym = matrix + matrix.T
    np.fill_diagonal(sym, 0)
    counts = np.bincount(given, minlength=k)
    pairs, used, members = [], set(), 0
    for flat in np.argsort(-sym, axis=None):
        a, b = divmod(int(flat), k)
        if a >= b or a in used or b in used:
            continue
        pairs.append((oof.classes[a], oof.classes[b]))
        used |= {a, b}
        members += counts[a] + counts[b]
        if members >= min_members:
            break
    return pairs


def flip_pairs(records: list[dict], pairs, rate: float, rng) -> tuple[list[dict], set]:
    partner = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    pool = [i for i, r in enumerate(records) if r["intents"][0] in partner]
    n = min(len(pool), int(round(rate * len(records))))
    chosen = rng.choice(pool, n, replace=False)
    out = [dict(r, entities=[], sentiment=None) for r in records]
    for i in chosen:
        out[i]["intents"] = [partner[out[i]["intents"][0]]]
    return out, {out[i]["id"] for i in chosen}


def scores_for(oof, flipped: set) -> dict:
    k = len(flipped)
    result = {}
    for method in LE.RANK_METHODS:
        rows = LE.rank_rows(oof.intent.rows(method=method))
        ids = [r["id"] for r in rows]
        flagged = [r["id"] for r in rows if r["flagged"]]
        result[method] = {
            "precision_at_k": len(set(ids[:k]) & flipped) / k,
            "recall_at_2k": len(set(ids[:2 * k]) & flipped) / k,
            "listed": len(ids),
            "cl_flagged": len(flagged),
            "cl_flagged_precision": (len(set(flagged) & flipped) / len(flagged)) if flagged else None,
        }
    return result


def run(args) -> dict:
    from pipeline.encoders import load_encoder

    records = single_intent(load(args.dataset))
    encoder = load_encoder(args.encoder)
    rng = np.random.default_rng(args.seed)
    report = {"dataset": args.dataset, "n": len(records), "intents": len({r["intents"][0] for r in records}),
              "rate": args.rate, "folds": args.folds, "encoder": encoder.identity, "scenarios": {}}
    started = time.perf_counter()
    clean = out_of_fold([dict(r, entities=[], sentiment=None) for r in records], encoder=encoder,
                        folds=args.folds, seed=args.seed)
    report["clean_oof_seconds"] = round(time.perf_counter() - started, 1)
    report["clean_oof_accuracy"] = float(np.mean(clean.intent.probs.argmax(1) == np.asarray(clean.intent.given)))
    n_flips = int(round(args.rate * len(records)))
    pairs = confused_pairs(clean.intent, min_members=4 * n_flips)
    report["confused_pairs"] = pairs
    for name, (noisy, flipped) in {"random": flip_random(records, args.rate, rng),
                                   "confused_pairs": flip_pairs(records, pairs, args.rate, rng)}.items():
        started = time.perf_counter()
        options = {"intent_C": LE.AUDIT_INTENT_C}
        first = out_of_fold(noisy, encoder=encoder, folds=args.folds, seed=args.seed, train_options=options)
        ranked = LE.rank_rows(first.intent.rows())
        suspects = {r["id"] for r in ranked[:int(LE.MAX_EXCLUDED * len(noisy))]}
        second = out_of_fold(noisy, encoder=encoder, folds=args.folds, seed=args.seed, train_options=options,
                             exclude=suspects)
        report["scenarios"][name] = {"flips": len(flipped), "seconds": round(time.perf_counter() - started, 1),
                                     "methods": scores_for(second, flipped), "pass1": scores_for(first, flipped)}
    return report


def print_table(report: dict) -> None:
    print(f"\nfind-errors on {report['dataset']}: {report['n']} turns, {report['intents']} intents, "
          f"{report['rate']:.0%} flipped, {report['folds']}-fold out-of-fold fast heads "
          f"(clean OOF accuracy {report['clean_oof_accuracy']:.3f})")
    print(f"{'noise':<16} {'method':<28} {'flips':>5} {'P@k':>6} {'R@2k':>6} {'listed':>7} {'CL flagged':>10} {'CL prec':>8}")
    for name, scenario in report["scenarios"].items():
        for method, s in scenario["methods"].items():
            prec = "-" if s["cl_flagged_precision"] is None else f"{s['cl_flagged_precision']:.3f}"
            print(f"{name:<16} {method:<28} {scenario['flips']:>5} {s['precision_at_k']:>6.3f} "
                  f"{s['recall_at_2k']:>6.3f} {s['listed']:>7} {s['cl_flagged']:>10} {prec:>8}")
    default = LE.DEFAULT_METHOD
    for name, scenario in report["scenarios"].items():
        s = scenario["pass1"][default]
        print(f"  ({name}, pass 1 only: P@k {s['precision_at_k']:.3f}, R@2k {s['recall_at_2k']:.3f})")
    print(f"\ndefault method {default}: random P@k {report['scenarios']['random']['methods'][default]['precision_at_k']:.3f} "
          f"(target 0.95), confused-pairs P@k "
          f"{report['scenarios']['confused_pairs']['methods'][default]['precision_at_k']:.3f} (target 0.8)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="bitext")
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encoder", default=None)
    args = parser.parse_args()
    if not available(args.dataset):
        print(f"skip: the {args.dataset} data (../shared/data) is absent")
        return 0
    report = run(args)
    print_table(report)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
