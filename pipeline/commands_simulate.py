"""The ``simulate`` sub-command: replay active learning with the pool's labels as the oracle.

``concord simulate --pool POOL.jsonl --test TEST.jsonl --strategy margin|all --out CURVE.json``
writes the learning curves (CURVE.json, CURVE.html beside it). Heavy imports stay in the handler.
"""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate", help="simulate active-learning strategies on labelled data (learning curves)",
        description="Replay the labelling loop: start from a cold-start sample of POOL, refit, pick the "
                    "next batch with each strategy, measure on TEST; the pool's labels are the oracle. "
                    "Writes CURVE.json and a Plotly CURVE.html beside it.")
    p.add_argument("--pool", required=True, help="labelled turns to draw from (JSONL/CSV/Parquet)")
    p.add_argument("--test", required=True, help="labelled turns to measure on")
    p.add_argument("--strategy", default="all",
                   help="a strategy name (e.g. margin, margin+prefilter, badge), a comma list, or 'all'")
    p.add_argument("--seed-size", type=int, default=20, help="labels chosen before any model (cold start)")
    p.add_argument("--batch-size", type=int, default=20, help="labels added per round")
    p.add_argument("--budget", type=int, default=None, help="labels at the end (default seed + 20 batches)")
    p.add_argument("--repeats", type=int, default=3, help="runs per strategy with different seeds")
    p.add_argument("--mode", choices=("fast", "full"), default="fast", help="extractor training mode")
    p.add_argument("--encoder", default=None, help="encoder name or local path (default: packaged MiniLM)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--out", required=True, help="where to write CURVE.json")
    p.set_defaults(handler=run_simulate)


def _read(path: str, what: str) -> list[dict]:
    from store.readers import read_files
    from workbench.cli import CommandError

    result = read_files([path])
    if result.problems:
        shown = "\n  ".join(str(p) for p in result.problems[:10])
        more = f"\n  ... and {len(result.problems) - 10} more" if len(result.problems) > 10 else ""
        raise CommandError(f"{what} file has {len(result.problems)} problem(s):\n  {shown}{more}")
    return result.records


def run_simulate(args) -> int:
    from pipeline.simulate import LoopSettings, simulate, write_curve
    from workbench.cli import CommandError

    pool, test = _read(args.pool, "--pool"), _read(args.test, "--test")
    settings = LoopSettings(seed_size=args.seed_size, batch_size=args.batch_size, budget=args.budget,
                            repeats=args.repeats, mode=args.mode, seed=args.seed)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        curve = simulate(pool, test, strategies=args.strategy, settings=settings,
                         encoder=args.encoder, progress=progress)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    for path in write_curve(curve, args.out):
        print(path)
    for name, c in curve["strategies"].items():
        print(f"{name:24s} labels_to_95pct={c['labels_to_95pct']}  auc={c['auc']:.4f}")
    return 0
