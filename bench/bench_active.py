"""Active-learning benchmark: every strategy vs random on Bitext, SGD dev and NLU++.

For each dataset (``bench/datasets.py`` train split = the pool and oracle, test split = where the
curve is measured) and each strategy, ``pipeline.simulate`` runs the labelling loop ``--repeats``
times; this prints labels needed to reach 95% of full-data intent accuracy (mean curve), the saving
vs random, the area under the curve, and the worst gap below random at any budget (points). It
also times one fast retrain + rescoring + ranking of a 10k-turn pool (target < 30 s on 2 cores).
Writes bench/out/active.json (and one CURVE-<dataset>.json/.html per dataset).

    python bench/bench_active.py                      # all three sets, 3 repeats, every strategy
    python bench/bench_active.py --datasets bitext --strategies random,margin+prefilter --repeats 1
    python bench/bench_active.py --timing-only

Intent curves use the fast learner (the extractor's intent head refit on cached embeddings and
calibrated on a held-out 20% exactly as fast mode does), so entity spans and sentiment are dropped
from the records here. Every number is measured, nothing is extrapolated. ``--tag`` keeps
exploratory runs in their own section; ``--report`` prints each data set's table from every
section measured the same way (so strategies run at different times share one random baseline).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench import datasets  # noqa: E402
from pipeline.active.selection import DEFAULT_STRATEGY  # noqa: E402
from pipeline.simulate import ALL_STRATEGIES, LoopSettings, simulate, write_curve  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
# Budgets are set so that random sampling reaches 95% of full-data accuracy inside them (else its
# "labels needed" is unknown and no saving can be stated). NLU++ is multi-label: accuracy = exact set.
DATASET_SETTINGS = {
    "bitext": {"seed_size": 20, "batch_size": 10, "budget": 400},
    "sgd": {"seed_size": 25, "batch_size": 50, "budget": 3000},   # random needs ~2100 here
    "nlupp": {"seed_size": 25, "batch_size": 50, "budget": 2425},
}


def intent_only(records: list[dict]) -> list[dict]:
    """The intent curve's view of a record: spans and sentiment dropped (fast learner)."""
    return [{**r, "entities": [], "sentiment": None} for r in records]


def compare_to_random(curve: dict, baseline: str = "random") -> dict:
    """Per strategy: labels to 95%, saving vs random, AUC, and the worst gap below random (points)."""
    base = curve["strategies"].get(baseline)
    rows = {}
    for name, c in curve["strategies"].items():
        row = {"labels_to_95pct": c["labels_to_95pct"], "auc": c["auc"]}
        if base is not None:
            gap = np.array(c["intent_accuracy_mean"]) - np.array(base["intent_accuracy_mean"])
            row["worst_gap_vs_random_points"] = round(float(gap.min()) * 100, 2)
            row["auc_vs_random_points"] = round((c["auc"] - base["auc"]) * 100, 2)
            ours, theirs = c["labels_to_95pct"], base["labels_to_95pct"]
            row["saving_vs_random"] = (round(1 - ours / theirs, 3) if ours and theirs else None)
            if ours and theirs is None:  # random needs more than the whole budget: a lower bound
                row["saving_vs_random_at_least"] = round(1 - ours / c["labels"][-1], 3)
        rows[name] = row
    return rows


def print_table(name: str, curve: dict, rows: dict) -> None:
    full = curve["full_data"]["intent_accuracy"]
    print(f"\n== {name}: full-data intent accuracy {full:.4f}; 95% target {0.95 * full:.4f}")
    print(f"{'strategy':22s} {'labels@95%':>10s} {'saving':>8s} {'AUC':>7s} {'dAUC':>6s} {'worst gap':>9s}")
    for strategy, r in rows.items():
        saving = "-" if r.get("saving_vs_random") is None else f"{100 * r['saving_vs_random']:.0f}%"
        if r.get("saving_vs_random_at_least") is not None:
            saving = f">{100 * r['saving_vs_random_at_least']:.0f}%"
        reach = r["labels_to_95pct"] if r["labels_to_95pct"] is not None else ">budget"
        print(f"{strategy:22s} {reach!s:>10s} {saving:>8s} {r['auc']:7.4f} "
              f"{r.get('auc_vs_random_points', 0):+6.2f} {r.get('worst_gap_vs_random_points', 0):+9.2f}")


def section_name(name: str, overrides: dict | None = None, tag: str = "") -> str:
    """The active.json section (and CURVE-<section>.json) of one run: data set, overrides, tag."""
    return name + "".join(f"-{k}{v}" for k, v in (overrides or {}).items()) + (f"-{tag}" if tag else "")


def run_dataset(name: str, strategies: list[str], repeats: int, encoder, overrides: dict | None = None,
                tag: str = "") -> dict:
    pool = intent_only(datasets.load(name, split="train"))
    test = intent_only(datasets.load(name, split="test"))
    chosen = {**DATASET_SETTINGS[name], **(overrides or {})}
    settings = LoopSettings(repeats=repeats, **chosen)
    started = time.perf_counter()
    curve = simulate(pool, test, strategies=strategies, settings=settings, encoder=encoder)
    seconds = time.perf_counter() - started
    write_curve(curve, OUT / f"CURVE-{section_name(name, overrides, tag)}.json")
    rows = compare_to_random(curve)
    print_table(name, curve, rows)
    print(f"settings: {chosen}, repeats {repeats}, cold start {settings.cold_start}; "
          f"{len(pool)} pool turns, {len(test)} test turns, {seconds:.0f}s")
    return {"settings": chosen, "repeats": repeats, "seconds": round(seconds, 1), "saved_at": round(time.time()),
            "summary": rows, "curve": curve}


def ten_k_pool(n: int = 10_000) -> list[dict]:
    """A 10k-turn pool from the public sets (single-label intents, entity spans kept)."""
    records = []
    for name in ("bitext", "sgd", "nlupp"):
        for r in datasets.load(name):
            if r["intents"]:
                records.append({**r, "intents": r["intents"][:1], "sentiment": None})
    if len(records) < n:
        raise SystemExit(f"timing: expected {n} labelled turns in the public sets, got {len(records)}")
    rng = np.random.default_rng(0)
    return [records[i] for i in rng.permutation(len(records))[:n]]


def time_retrain(encoder, *, labelled_sizes=(2_000, 10_000)) -> dict:
    """Fast Extractor retrain on the labelled part + rescoring + ranking of the whole 10k pool."""
    from pipeline.active.selection import rank_pool
    from pipeline.extractor import Extractor

    pool = ten_k_pool()
    started = time.perf_counter()
    encoder.embed_with_tokens([r["text"] for r in pool])  # fills the cache once (cold cost below)
    out = {"pool": len(pool), "embedding_fill_seconds": round(time.perf_counter() - started, 1)}
    for n in labelled_sizes:
        t0, cpu0 = time.perf_counter(), time.process_time()
        extractor = Extractor.train(pool[:n], mode="fast", encoder=encoder, seed=0)
        t1 = time.perf_counter()
        arrays = extractor.predict_arrays(pool)
        t2 = time.perf_counter()
        # the whole 10k pool ranked (an upper bound on the cost), next to the n labelled turns
        rank_pool(DEFAULT_STRATEGY, batch_size=50, probs=arrays.intent_probs, embeddings=arrays.embeddings,
                  labeled_embeddings=arrays.embeddings[:n], multi_label=bool(extractor.schema["multi_label"]))
        t3, cpu3 = time.perf_counter(), time.process_time()
        out[f"labelled_{n}"] = {"retrain_s": round(t1 - t0, 2), "rescore_s": round(t2 - t1, 2),
                                "rank_s": round(t3 - t2, 2), "total_s": round(t3 - t0, 2),
                                "cpu_s": round(cpu3 - cpu0, 2)}
    out["load_average"] = round(os.getloadavg()[0], 1)  # the box is shared: wall time depends on it
    print(f"\n== fast retrain + rescoring of a {len(pool)}-turn pool (embeddings cached; filling the "
          f"cache took {out['embedding_fill_seconds']}s; load average {out['load_average']})")
    for n in labelled_sizes:
        r = out[f"labelled_{n}"]
        print(f"labelled {n:6d}: retrain {r['retrain_s']:.1f}s + rescore {r['rescore_s']:.1f}s + rank "
              f"{r['rank_s']:.1f}s = {r['total_s']:.1f}s wall, {r['cpu_s']:.1f}s CPU  (target < 30 s)")
    return out


def merged_curve(report: dict, name: str) -> dict | None:
    """One curve per data set from every saved section measured the same way as the newest one
    (default settings, >= 3 repeats, the same full-data reference, i.e. the same learner): runs
    of different strategies made at different times then share one table and one random baseline."""
    sections = [section for key, section in report.get("datasets", {}).items()
                if (key == name or key.startswith(name + "-")) and section["settings"] == DATASET_SETTINGS[name]
                and section["repeats"] >= 3]
    if not sections:
        return None
    sections.sort(key=lambda section: section.get("saved_at", 0.0))
    full_data = sections[-1]["curve"]["full_data"]
    merged = {"full_data": full_data, "strategies": {}}
    for section in sections:
        if section["curve"]["full_data"] == full_data:
            merged["strategies"].update(section["curve"]["strategies"])
    if "random" in merged["strategies"]:  # random first, as in a single run's table
        merged["strategies"] = {"random": merged["strategies"].pop("random"), **merged["strategies"]}
    return merged


def print_report(path: Path, names: list[str]) -> None:
    """The comparison table per data set, from active.json's comparable sections."""
    report = json.loads(path.read_text())
    for name in names:
        curve = merged_curve(report, name)
        if curve is None or "random" not in curve["strategies"]:
            print(f"\n== {name}: no comparable runs with random in {path}")
            continue
        print_table(name, curve, compare_to_random(curve))
        print(f"settings: {DATASET_SETTINGS[name]}, >= 3 repeats")


def save_section(path: Path, keys: tuple, value) -> None:
    """Update one section of active.json, re-reading it first (several runs may share the file)."""
    report = json.loads(path.read_text()) if path.exists() else {}
    report["default_strategy"] = DEFAULT_STRATEGY
    node = report
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    path.write_text(json.dumps(report, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="bitext,sgd,nlupp")
    parser.add_argument("--strategies", default=",".join(ALL_STRATEGIES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--encoder", default=None)
    parser.add_argument("--budget", type=int, default=None, help="override the per-dataset budget")
    parser.add_argument("--batch-size", type=int, default=None, help="override the per-dataset batch size")
    parser.add_argument("--tag", default="", help="suffix for the active.json section and CURVE file "
                        "(keeps exploratory runs apart)")
    parser.add_argument("--report", action="store_true",
                        help="only print the tables from active.json (sections measured the same way merged)")
    parser.add_argument("--timing-only", action="store_true")
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args(argv)
    if not datasets.available():
        print("bench_active: ../shared/data is absent; nothing to measure")
        return 0
    if args.report:
        print_report(OUT / "active.json", [d for d in args.datasets.split(",") if d])
        return 0
    from pipeline.encoders import configure_threads, load_encoder

    configure_threads()
    encoder = load_encoder(args.encoder)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "active.json"
    if not args.timing_only:
        strategies = [s for s in args.strategies.split(",") if s]
        overrides = {k: v for k, v in (("budget", args.budget), ("batch_size", args.batch_size)) if v}
        for name in [d for d in args.datasets.split(",") if d]:
            save_section(path, ("datasets", section_name(name, overrides, args.tag)),
                         run_dataset(name, strategies, args.repeats, encoder, overrides, args.tag))
    if not args.no_timing:
        save_section(path, ("timing_10k",), time_retrain(encoder))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
