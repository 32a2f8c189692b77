"""Import speed and the public sets: prints how long 100k turns take and that every public set imports.

    python bench/bench_import.py [--n 100000] [--skip-public]

The 100k turns are synthetic (context, response, labels, CJK and emoji spans) so the figure does not
depend on ../shared; the public sets are converted by bench/datasets.py and imported like a user would.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
sys.path[:1] = [str(_REPO)] if Path(sys.path[0]).resolve() == _REPO / "bench" else sys.path[:1]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from store import Store, importer  # noqa: E402
from store.records import write_jsonl  # noqa: E402

WORDS = "refund order track cancel invoice address card delivery late broken price help account".split()


def synthetic_turns(n: int, seed: int = 0):
    rng = random.Random(seed)
    for i in range(n):
        words = rng.choices(WORDS, k=rng.randint(4, 14))
        prefix = "退款 🙂 订单" if i % 10 == 0 else " ".join(words) + " #"
        number = str(rng.randint(10000, 99999))
        text = prefix + number
        labelled = i % 3 == 0
        yield {
            "id": f"s{i}", "conversation_id": f"c{i // 4}", "turn_index": (i % 4) * 2,
            "context": [{"speaker": "user", "text": "hello"}, {"speaker": "assistant", "text": "Hi, how can I help?"}],
            "text": text, "response": f"Order {number} is on its way.",
            "intents": [words[0]] if labelled else [],
            "entities": [{"start": len(prefix), "end": len(text), "label": "order_id"}] if labelled else [],
            "sentiment": rng.choice(["negative", "neutral", "positive"]) if labelled else None,
            "aligned": True if labelled else None, "meta": {"channel": "chat"},
        }


def time_bulk_import(n: int, workdir: Path) -> dict:
    path = workdir / "synthetic.jsonl"
    write_jsonl(path, synthetic_turns(n))
    with Store(workdir / "bench.duckdb") as db:
        started = time.perf_counter()
        report = importer.import_files(db, [path])
        seconds = time.perf_counter() - started
        assert report.ok, report.summary()
        again = time.perf_counter()
        repeat = importer.import_files(db, [path])
        repeat_seconds = time.perf_counter() - again
    size_mb = path.stat().st_size / 1e6
    print(f"import {n:,} turns ({size_mb:.0f} MB JSONL): {seconds:.1f} s = {n / seconds:,.0f} turns/s; "
          f"re-import (all duplicates): {repeat_seconds:.1f} s, {repeat.n_duplicates:,} skipped")
    return {"n": n, "seconds": round(seconds, 2), "turns_per_s": round(n / seconds), "reimport_seconds": round(repeat_seconds, 2)}


def import_public_sets(workdir: Path) -> dict:
    from bench.datasets import available, load, names

    if not available():
        print("../shared/data is absent: public sets skipped")
        return {}
    results = {}
    for name in names():
        path = workdir / f"{name}.jsonl"
        write_jsonl(path, load(name))
        with Store(workdir / f"{name}.duckdb") as db:
            started = time.perf_counter()
            report = importer.import_files(db, [path], project=name)
            seconds = time.perf_counter() - started
            stats = db.query_one("SELECT count(*), count(DISTINCT conversation_id) FROM turns")
        status = "ok" if report.ok else "FAILED: " + report.summary(max_problems=3)
        print(f"  {name:15s} {status}: {stats[0]:,} turns, {stats[1]:,} conversations, "
              f"{report.n_duplicates} duplicates skipped, {seconds:.2f} s")
        results[name] = {"ok": report.ok, "turns": stats[0], "duplicates": report.n_duplicates}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--skip-public", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = {"bulk": time_bulk_import(args.n, Path(tmp))}
        if not args.skip_public:
            print("public sets (converted by bench/datasets.py, imported with store.importer):")
            out["public"] = import_public_sets(Path(tmp))
    (_REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (_REPO / "bench" / "out" / "import.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
