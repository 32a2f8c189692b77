"""Server-side time of every analyst query and page with 100k turns (issue 6: each page within 1 s).

Builds a synthetic project (bench/analysis_fixture.py: 100k turns, 60% labelled, 10% by two annotators,
4 model runs with predictions for every turn, published embeddings), then times
  * each ``store.analysis`` / ``store.evidence`` query, cold (first call after the data changed: the
    label CTE runs) and warm (the per-data-version snapshot is reused, as on every rerun of a page);
  * each page's full server-side script run through Streamlit's AppTest: its first run after the data
    changed (every cache cold; one warm-up run first, so per-process imports are not counted), its first
    run when another analyst page was opened after the change (that page prewarms the caches in the
    background), and a rerun (what a click costs).
Prints a table; writes bench/out/analysis_pages.json.

    python bench/bench_analysis_pages.py [--turns 100000]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
OUT = REPO / "bench" / "out" / "analysis_pages.json"
PAGES = ("health", "label_errors", "misalignment", "agreement", "browse")


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def bump_version(db) -> None:
    """A trivial label change, so every cache keyed by the data version is cold again."""
    import uuid

    from store import annotations

    annotations.flag(db, annotation_id=str(uuid.uuid4()), turn_id="t000001", project="default", annotator="bench")


def query_timings(db) -> dict:
    from store import analysis as A
    from store import browse as B
    from store import evidence as E

    queries = {
        "model_snapshot": lambda: A.model_snapshot(db),
        "confusion": lambda: A.confusion(db),
        "confusion_cell_turns": lambda: A.confusion_cell_turns(db, gold="intent_01", predicted="intent_02"),
        "sentiment_confusion": lambda: A.confusion(db, field="sentiment"),
        "calibration": lambda: A.calibration(db),
        "entity_scores": lambda: A.entity_scores(db),
        "runs": lambda: A.runs(db),
        "label_error_candidates": lambda: A.label_error_candidates(db),
        "alignment_histogram": lambda: A.alignment_histogram(db),
        "worst_aligned": lambda: A.worst_aligned(db),
        "worst_aligned_filtered": lambda: A.worst_aligned(db, intent="intent_03", annotator="bob"),
        "agreement_summary": lambda: A.agreement_summary(db),
        "annotator_stats": lambda: A.annotator_stats(db),
        "adjudication_queue": lambda: A.adjudication_queue(db),
        "nearest_labelled": lambda: E.nearest_labelled(db, "default", "t000002"),
        "embedding_map": lambda: E.embedding_map(db, "default"),
        "browse_turns": lambda: B.browse_turns(db),
        "browse_turns_filtered": lambda: B.browse_turns(db, search="refund card", in_response=True,
                                                        intents=["intent_03"], annotator="bob", page=2),
    }
    bump_version(db)
    out = {}
    for name, fn in queries.items():
        cold, _ = timed(fn)
        warm, _ = timed(fn, repeat=3)
        out[name] = {"cold_s": round(cold, 3), "warm_s": round(warm, 3)}
    return out


def page_timings(db_path: str) -> dict:
    from test_analysis_pages import page_as

    from store import users
    from workbench import runtime

    os.environ[runtime.ENV_DB] = db_path
    db = runtime.get_store(db_path)
    if users.get_user(db, "ana") is None:
        users.add_user(db, "ana", "analyst", "analyst-pass")
    from store import analysis

    page_as("health", "ana")      # one warm-up run: Python imports (plotly, pandas paths) are per process, not per page
    analysis.wait_for_prewarm()
    out = {}
    for i, page in enumerate(PAGES):
        bump_version(db)
        first, at = timed(lambda p=page: page_as(p, "ana"))
        assert not at.exception, at.exception
        rerun, _ = timed(lambda a=at: a.run(), repeat=2)
        analysis.wait_for_prewarm()
        bump_version(db)                                   # a label changes; the analyst opens another page ...
        page_as(PAGES[(i + 1) % len(PAGES)], "ana")
        analysis.wait_for_prewarm()                        # ... whose background prewarm fills this page's caches
        after, _ = timed(lambda p=page: page_as(p, "ana"))
        out[page] = {"first_s": round(first, 3), "after_other_page_s": round(after, 3), "rerun_s": round(rerun, 3)}
    analysis.wait_for_prewarm()
    runtime.close_stores()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--keep", default=None, help="reuse / keep the database at this path")
    args = parser.parse_args()
    from analysis_fixture import build_project  # noqa: E402  (bench/ on the path via REPO/bench below)

    from store import Store

    path = Path(args.keep) if args.keep else Path(tempfile.mkdtemp()) / "bench.duckdb"
    report = {"turns": args.turns}
    if not path.exists():
        with Store(path) as db:
            build_s, info = timed(lambda: build_project(db, n_turns=args.turns))
            report.update(build_s=round(build_s, 1), labelled=info["n_labelled"])
    with Store(path) as db:
        report["queries"] = query_timings(db)
    report["pages"] = page_timings(str(path))
    print(f"\nanalyst views with {args.turns} turns (server-side seconds; target: each page < 1 s)")
    print(f"{'query':<26} {'cold':>7} {'warm':>7}")
    for name, t in report["queries"].items():
        print(f"{name:<26} {t['cold_s']:>7.3f} {t['warm_s']:>7.3f}")
    print(f"\n{'page':<26} {'first':>7} {'next':>7} {'rerun':>7}   (first: all caches cold after a change; next: "
          f"opened after another analyst page prewarmed; rerun: a click)")
    for name, t in report["pages"].items():
        print(f"{name:<26} {t['first_s']:>7.3f} {t['after_other_page_s']:>7.3f} {t['rerun_s']:>7.3f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "bench"))
    sys.exit(main())
