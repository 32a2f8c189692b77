"""Does the alignment model tell real responses from swapped ones, and does fusion help? (issues 4 and 6)

On SGD dev dialogues (``bench.datasets``: dialogue-level 80/20 split) we train ``ConcordModel``
(fast mode, packaged MiniLM) on the train dialogues, then on the test dialogues swap 10% of the
responses between conversations (repeated with several seeds) and measure, with k = number swapped:
  ROC-AUC (real vs swapped) and precision@k of the misalignment ranking, for
  - plain linear: full-rank ridge A·u ≈ y on sentence embeddings, score cos(A·u, y) (the ~0.7 baseline)
  - cosine: the reduced-rank map at the chosen rank ("common divisor") over the default representation
  - cosine_csls: the same, hubness-corrected
  - intent_agreement / pair_mlp: the discriminative checks alone
  - discriminative: a logistic combination of the two discriminative checks only
  - combined: the model's calibrated misalignment probability (target precision@k >= 0.9)
  both with the test turns' intent labels (labelled data) and with them removed (unlabelled data: the
  turn's intent is the extractor's prediction).
Representations of intent compared: (a) "labels" = extractor intent + entity-type + sentiment
probabilities, (b) "embedding" = utterance + last assistant turn embeddings, and "both".
Fusion: intent accuracy of the fused suggestion vs the extractor alone on test turns with responses,
gated by p(aligned) and ungated. Prints a table; writes bench/out/alignment.json.

    python bench/bench_alignment.py [--repeats 5] [--rate 0.1] [--seed 0] [--threads 1]
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

from bench.datasets import load  # noqa: E402
from bench.report import run_and_report  # noqa: E402
from pipeline.alignment import (  # noqa: E402
    FEATURES, calibration_data, cosine_rows, fit_reduced_rank_ridge, precision_at_k, swap_partners,
)
from pipeline.model import ConcordModel, split_holdout  # noqa: E402

OUT = REPO / "bench" / "out" / "alignment.json"
REPRESENTATIONS = ("embedding", "labels", "both")


def swapped_copy(records: list[dict], rate: float, seed: int) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """``records`` with ``rate`` of the responses swapped between conversations; mask of swapped turns;
    per turn, the row whose response it now has (itself when not swapped)."""
    rng = np.random.default_rng(seed)
    groups = np.array([r["conversation_id"] for r in records])
    chosen = np.sort(rng.choice(len(records), int(round(rate * len(records))), replace=False))
    turns, sources = swap_partners(groups, chosen, repeats=1, seed=seed)
    out = [dict(r) for r in records]
    for t, s in zip(turns, sources):
        out[t]["response"] = records[s]["response"]
    swapped = np.zeros(len(records), bool)
    swapped[turns] = True
    source = np.arange(len(records))
    source[turns] = sources
    return out, swapped, source


def ranking_scores(model: ConcordModel, records: list[dict], sub_combiners: dict) -> dict[str, np.ndarray]:
    """Misalignment scores (higher = more likely swapped) per method for ``records``."""
    scored = model.score_pool(records)
    features = scored.alignment_features
    out = {"combined": scored.misalignment_prob}
    for j, name in enumerate(FEATURES):
        out["pair_mlp" if name == "pair_logit" else name] = -features[:, j]
    for name, (columns, lr) in sub_combiners.items():
        out[name] = lr.predict_proba(features[:, columns])[:, 1]
    return out


def sub_combiner(model: ConcordModel, train: list[dict], columns: list[int], seed: int):
    """A logistic combination of some features, fitted on the same held-out calibration pairs as the model's."""
    from sklearn.linear_model import LogisticRegression

    rows = [r for r in train if r.get("response")]
    arrays = model.extractor.predict_arrays(rows)
    pairs = model.pair_arrays(rows, arrays, model.alignment.intent_classes)
    holdout = split_holdout(rows, seed=seed)
    misaligned = np.array([r.get("aligned") is False for r in rows])
    groups = np.array([r["conversation_id"] for r in rows])
    features, labels = calibration_data(model.alignment, pairs, holdout, misaligned, groups, seed=seed)
    return columns, LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(features[:, columns], labels)


def plain_linear_baseline(model: ConcordModel, train: list[dict], test_sets: list[tuple[list[dict], np.ndarray]]) -> dict:
    """Full-rank ridge u -> y on sentence embeddings, cosine score: what a plain A·I ≈ Y achieves."""
    encoder = model.extractor.encoder
    rows = [r for r in train if r.get("response") and r.get("aligned") is not False]
    U, Y = encoder.embed([r["text"] for r in rows]), encoder.embed([r["response"] for r in rows])
    fit = fit_reduced_rank_ridge(U, Y, alpha=1.0)
    results = []
    for records, swapped, _ in test_sets:
        score = -cosine_rows(fit.predict(encoder.embed([r["text"] for r in records])),
                             encoder.embed([r["response"] for r in records]))
        results.append(_auc_pk(score, swapped))
    return _mean_std(results)


def _auc_pk(score: np.ndarray, swapped: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    return {"roc_auc": float(roc_auc_score(swapped, score)), "precision_at_k": precision_at_k(score, swapped)}


def _mean_std(results: list[dict]) -> dict:
    return {f"{key}_{stat}": float(fn([r[key] for r in results]))
            for key in results[0] for stat, fn in (("mean", np.mean), ("std", np.std))}


def evaluate_swaps(model, train, test_sets, *, seed: int, labelled: bool) -> dict:
    subs = {"discriminative": sub_combiner(model, train, [2, 3], seed)}
    per_method: dict[str, list] = {}
    for records, swapped, _ in test_sets:
        if not labelled:
            records = [dict(r, intents=[]) for r in records]
        for name, score in ranking_scores(model, records, subs).items():
            per_method.setdefault(name, []).append(_auc_pk(score, swapped))
    return {name: _mean_std(results) for name, results in per_method.items()}


def conversation_services(records: list[dict]) -> dict[str, str | None]:
    """SGD conversation -> its service (the prefix of its turns' "Service_N:Intent" labels)."""
    services: dict[str, str | None] = {}
    for r in records:
        found = next((i.split(":")[0] for i in r.get("intents") or [] if ":" in i), None)
        if services.get(r["conversation_id"]) is None:
            services[r["conversation_id"]] = found
    return services


GENERIC_COSINE, GENERIC_SERVICES = 0.8, 3


def generic_responses(model: ConcordModel, train: list[dict], responses: list[str]) -> np.ndarray:
    """Per response: is it generic, i.e. do training responses within cosine 0.8 of it come from at
    least 3 services ("Have a nice day.", "Anything else?")? Swapped in, such a reply often still fits."""
    services = conversation_services(train)
    encoder = model.extractor.encoder
    bank = encoder.embed([r["response"] for r in train])
    bank_service = np.array([services[r["conversation_id"]] or "" for r in train])
    close = encoder.embed(responses) @ bank.T >= GENERIC_COSINE
    return np.array([len(set(bank_service[row])) >= GENERIC_SERVICES for row in close])


def swap_breakdown(model: ConcordModel, train: list[dict], test: list[dict], test_sets) -> dict:
    """Which swaps the combined score misses: share of swapped turns ranked inside the top k, split by
    where the response came from (a conversation of another service, or of the same service: another
    restaurant dialogue's "What time would you like?" often fits as well) and by whether the response
    is generic (``generic_responses``)."""
    services = conversation_services(test)
    generic = generic_responses(model, train, [r["response"] for r in test])
    caught: dict[str, list] = {"other_service": [], "same_service": [], "specific_response": [], "generic_response": []}
    false_positives = np.zeros(len(test), int)        # per real pair: repeats in which it sat in the top k
    for records, swapped, source in test_sets:
        score = model.score_pool(records).misalignment_prob
        top = np.zeros(len(records), bool)
        top[np.argsort(-score, kind="stable")[:int(swapped.sum())]] = True
        false_positives += top & ~swapped
        for i in np.flatnonzero(swapped):
            same = services[test[i]["conversation_id"]] == services[test[source[i]]["conversation_id"]]
            caught["same_service" if same else "other_service"].append(bool(top[i]))
            caught["generic_response" if generic[source[i]] else "specific_response"].append(bool(top[i]))
    out = {kind: {"swaps": len(v), "caught_in_top_k": round(float(np.mean(v)), 4) if v else None} for kind, v in caught.items()}
    return {**out, "false_positives": recurring_false_positives(test, false_positives, len(test_sets))}


def recurring_false_positives(test: list[dict], counts: np.ndarray, repeats: int, *, show: int = 5) -> dict:
    """The real pairs ranked among the top k: how many per repeat, how many distinct turns, and the share
    taken by turns that are there in at least half the repeats (the same real pairs every time -- closings
    and "anything else?" replies -- rather than a random few)."""
    from pipeline.model import last_assistant_text

    recurring = counts >= max(1, repeats / 2)
    worst = np.argsort(-counts, kind="stable")[:show]
    return {"per_repeat": round(float(counts.sum()) / repeats, 2), "distinct_turns": int((counts > 0).sum()),
            "share_from_recurring_turns": round(float(counts[recurring].sum() / max(counts.sum(), 1)), 3),
            "most_recurring": [{"repeats": int(counts[i]), "context": last_assistant_text(test[i]), "text": test[i]["text"],
                                "response": test[i]["response"]} for i in worst if counts[i]]}


def train_model(train, *, representation: str, gated: bool, seed: int) -> tuple[ConcordModel, float]:
    started = time.perf_counter()
    model = ConcordModel.train(train, mode="fast", seed=seed, representation=representation, fusion_gated=gated)
    return model, time.perf_counter() - started


def fusion_figures(model: ConcordModel, test: list[dict]) -> dict:
    metrics = model.evaluate(test)
    return {"weight": model.fusion_weight, "gated": model.fusion_gated,
            "intent_accuracy_fused": metrics["intent_accuracy"], "intent_accuracy_text_only": metrics["intent_accuracy_text_only"],
            "intent_macro_f1_fused": metrics["intent_macro_f1"], "intent_macro_f1_text_only": metrics["intent_macro_f1_text_only"],
            "n_with_response": metrics["fusion"]["n_with_response"], "alignment_swap_roc_auc": metrics["alignment_swap_roc_auc"],
            "holdout": model.report.get("fusion")}


def compare_representations(train, test_sets, result: dict, *, seed: int) -> tuple[dict, dict]:
    """Train one model per intent representation; fill ``result`` with each one's rank and swap figures."""
    models, swaps_by_representation = {}, {}
    for representation in REPRESENTATIONS:
        model, seconds = train_model(train, representation=representation, gated=True, seed=seed)
        models[representation] = model
        report = model.report["alignment"]
        swaps = swaps_by_representation[representation] = evaluate_swaps(model, train, test_sets, seed=seed, labelled=True)
        result["representations"][representation] = {
            "rank": report["rank"], "best_rank": report["best_rank"], "alpha": report["alpha"],
            "valid_r2_at_rank": report["rank_r2"][report["rank"] - 1], "valid_r2_best": max(report["rank_r2"]),
            "cosine": swaps["cosine"], "cosine_csls": swaps["cosine_csls"], "combined": swaps["combined"]}
        result["timings"][f"train_{representation}_s"] = round(seconds, 1)
        result["timings"][f"alignment_fit_{representation}_s"] = report.get("fit_seconds")
        print(f"trained [{representation}] in {seconds:.0f}s: rank {report['rank']}, combined p@k "
              f"{swaps['combined']['precision_at_k_mean']:.3f}", file=sys.stderr, flush=True)
    return models, swaps_by_representation


def run(args) -> dict:
    from threadpoolctl import threadpool_limits

    from pipeline.encoders import configure_threads

    configure_threads(args.threads)
    train = [r for r in load("sgd", split="train") if r.get("response")]
    test = [r for r in load("sgd", split="test") if r.get("response")]
    test_sets = [swapped_copy(test, args.rate, args.seed + i) for i in range(args.repeats)]
    result = {"dataset": {"name": "sgd", "train_turns": len(train), "test_turns": len(test),
                          "swapped_per_repeat": int(test_sets[0][1].sum()), "repeats": args.repeats, "rate": args.rate},
              "representations": {}, "timings": {}}
    with threadpool_limits(limits=args.threads):
        models, swaps_by_representation = compare_representations(train, test_sets, result, seed=args.seed)
        model = models["embedding"]
        result["default_representation"] = "embedding"
        result["best_representation_by_combined_precision"] = max(
            REPRESENTATIONS, key=lambda r: result["representations"][r]["combined"]["precision_at_k_mean"])
        result["chosen_rank"] = model.report["alignment"]["rank"]
        result["labelled"] = swaps_by_representation["embedding"]
        result["unlabelled"] = evaluate_swaps(model, train, test_sets, seed=args.seed, labelled=False)
        result["swap_breakdown"] = swap_breakdown(model, train, test, test_sets)
        result["plain_linear"] = plain_linear_baseline(model, train, test_sets)
        started = time.perf_counter()
        model.score_pool(test)
        result["timings"]["score_turns_per_s"] = round(len(test) / (time.perf_counter() - started), 1)
        ungated, _ = train_model(train, representation="embedding", gated=False, seed=args.seed)
        result["fusion"] = {"gated": fusion_figures(model, test), "ungated": fusion_figures(ungated, test)}
    return result


def print_table(result: dict) -> None:
    d = result["dataset"]
    print(f"SGD: {d['train_turns']} train turns, {d['test_turns']} test turns, {d['swapped_per_repeat']} swapped "
          f"per repeat x {d['repeats']} (k = number swapped)")
    print(f"\n{'method':<28} {'ROC-AUC':>15} {'precision@k':>15}   (labelled test turns)")
    rows = [("plain linear A·u≈y", result["plain_linear"])] + list(result["labelled"].items())
    for name, m in rows:
        print(f"{name:<28} {m['roc_auc_mean']:.3f} ± {m['roc_auc_std']:.3f}   {m['precision_at_k_mean']:.3f} ± {m['precision_at_k_std']:.3f}")
    u = result["unlabelled"]["combined"]
    print(f"{'combined, unlabelled turns':<28} {u['roc_auc_mean']:.3f} ± {u['roc_auc_std']:.3f}   "
          f"{u['precision_at_k_mean']:.3f} ± {u['precision_at_k_std']:.3f}")
    breakdown = dict(result["swap_breakdown"])
    fp = breakdown.pop("false_positives")
    for kind, b in breakdown.items():
        print(f"  swapped in: {kind.replace('_', ' '):<18} {b['swaps']:>5} swaps, {b['caught_in_top_k']:.3f} of them ranked in the top k")
    print(f"  real pairs in the top k: {fp['per_repeat']} per repeat, {fp['distinct_turns']} distinct turns, "
          f"{fp['share_from_recurring_turns']:.0%} of them from turns there in at least half the repeats:")
    for r in fp["most_recurring"]:
        print(f"    {r['repeats']}x  {r['context']!r} | {r['text']!r} -> {r['response']!r}")
    print(f"\n{'representation':<16} {'rank':>5} {'best':>5} {'R2@rank':>8} {'cos p@k':>8} {'csls p@k':>9} {'combined p@k':>13}")
    for name, r in result["representations"].items():
        print(f"{name:<16} {r['rank']:>5} {r['best_rank']:>5} {r['valid_r2_at_rank']:>8.3f} "
              f"{r['cosine']['precision_at_k_mean']:>8.3f} {r['cosine_csls']['precision_at_k_mean']:>9.3f} "
              f"{r['combined']['precision_at_k_mean']:>13.3f}")
    print(f"chosen rank (common divisor, default representation): {result['chosen_rank']}")
    print(f"\n{'fusion':<10} {'w':>5} {'acc text':>9} {'acc fused':>10} {'F1 text':>8} {'F1 fused':>9}")
    for name, f in result["fusion"].items():
        print(f"{name:<10} {f['weight']:>5.2f} {f['intent_accuracy_text_only']:>9.3f} {f['intent_accuracy_fused']:>10.3f} "
              f"{f['intent_macro_f1_text_only']:>8.3f} {f['intent_macro_f1_fused']:>9.3f}")
    print("\ntimings:", json.dumps(result["timings"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (1 on a shared 2-core box)")
    return run_and_report(parser.parse_args(), dataset="sgd", run=run, print_table=print_table, out=OUT)


if __name__ == "__main__":
    sys.exit(main())
