"""Benchmark: export 100k labelled turns from a store (target: under 30 s per export on 2 cores).

Imports N synthetic labelled turns (English and Chinese, entities, responses) as gold labels into a
fresh store under bench/out/, then times ``store.export.export`` end to end (effective labels,
filters, split, format, manifest, the export record) for several formats. Prints one line per format.

    python bench/bench_export.py [--turns 100000] [--formats native,intent-csv,conll,hf,labelstudio,chat]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
# bench/ holds a datasets.py of its own: keep the script's folder off the path so `import datasets` is the library.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from store import Store, importer  # noqa: E402
from store.export import export  # noqa: E402
from store.records import write_jsonl  # noqa: E402

OUT = REPO / "bench" / "out" / "export"
TEMPLATES = [
    ("refund", "I want a refund for order {n}, it arrived broken", "order_id", "{n}"),
    ("cancel_order", "please cancel order {n} before it ships to Berlin", "order_id", "{n}"),
    ("shipping", "when will my parcel to Paris arrive? tracking {n}", "city", "Paris"),
    ("refund", "退款 🙂 订单{n}", "order_id", "{n}"),
    ("greet", "hello there, quick question about my account", None, None),
]


def synthetic_turns(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    turns = []
    for i in range(n):
        intent, template, label, value = TEMPLATES[rng.randrange(len(TEMPLATES))]
        number = str(100_000 + i)  # unique, so no turn is dropped as a duplicate
        text = template.format(n=number)
        entities = []
        if label:
            target = value.format(n=number)
            start = text.index(target)
            entities.append({"start": start, "end": start + len(target), "label": label})
        conversation = i // 4
        turns.append({"id": f"b{i}", "conversation_id": f"conv{conversation}", "turn_index": (i % 4) * 2, "text": text,
                      "context": [{"speaker": "user", "text": "hi"}, {"speaker": "assistant", "text": "Hello!"}],
                      "response": f"Sure, I can help with {number}.", "intents": [intent], "entities": entities,
                      "sentiment": rng.choice(["positive", "neutral", "negative"]), "aligned": rng.random() > 0.3})
    return turns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--formats", default="native,intent-csv,conll,hf,labelstudio,chat,dpo-trl")
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    source = OUT / "turns.jsonl"
    write_jsonl(source, synthetic_turns(args.turns))
    with Store(OUT / "bench.duckdb") as db:
        started = time.perf_counter()
        report = importer.import_files(db, [source], labels="gold")
        assert report.ok, report.summary()
        print(f"setup: imported {report.n_turns:,} labelled turns in {time.perf_counter() - started:.1f} s")
        for fmt in args.formats.split(","):
            started = time.perf_counter()
            result = export(db, OUT / fmt, fmt=fmt, split=True, seed=0, exported_by="bench")
            seconds = time.perf_counter() - started
            n = sum(c["turns"] for c in result.manifest["counts"].values())
            verdict = "ok" if seconds < 30 else "OVER the 30 s target"
            print(f"export {fmt:12s} {n:,} turns, split, in {seconds:6.1f} s  ({n / seconds:,.0f} turns/s) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
