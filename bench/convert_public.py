"""Write every public set as native JSONL under bench/out/data/ and prove Concord reads it back cleanly.

    python -m bench.convert_public              # all sets, both splits
    python bench/convert_public.py bitext sgd   # only these
    python -m bench.convert_public --import-db /tmp/public.duckdb   # and import each (one project per set)

For each set this prints the counts (turns, intents, spans, repaired/skipped spans), then reads every
written file with ``store.readers.read_files`` and prints its problems (there must be none) and the
timings. The files are what ``concord import bench/out/data/<name>.<split>.jsonl`` is tried on.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == _REPO / "bench":
    sys.path[0] = str(_REPO)  # run as a script: don't let bench/datasets.py shadow HF `datasets`
elif str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from bench.datasets import SPLITS, available, load_with_report, names  # noqa: E402
from store.readers import read_files  # noqa: E402
from store.records import write_jsonl  # noqa: E402

OUT = _REPO / "bench" / "out" / "data"
DEFAULT_SETS = ("bitext", "sgd", "nlupp_banking", "nlupp_hotels", "crosswoz", "goemotions")


def convert(name: str, out_dir: Path) -> list[Path]:
    """Write <name>.<split>.jsonl for each split and print what the conversion did."""
    started = time.perf_counter()
    records, report = load_with_report(name)
    print(f"{report.summary()}  [converted in {time.perf_counter() - started:.2f}s]")
    for example in report.skipped_examples[:2]:
        print(f"    skipped e.g. {example}")
    paths = []
    for split in SPLITS:
        part = [rec for rec in records if rec["meta"]["split"] == split]
        path = out_dir / f"{name}.{split}.jsonl"
        write_jsonl(path, part)
        n_intents = len({i for rec in part for i in rec["intents"]})
        n_spans = sum(len(rec["entities"]) for rec in part)
        print(f"  {split}: {len(part)} turns, {n_intents} intents, {n_spans} spans -> {path}")
        paths.append(path)
    return paths


def verify(paths: list[Path]) -> int:
    """Read the files back as an import would; print and return the number of problems."""
    started = time.perf_counter()
    result = read_files(paths)
    seconds = time.perf_counter() - started
    print(f"read back {len(result.records)} turns from {len(paths)} files in {seconds:.2f}s: "
          f"{len(result.problems)} problems")
    for problem in result.problems[:10]:
        print(f"    {problem}")
    return len(result.problems)


def import_into(db_path: Path, name: str, paths: list[Path]) -> int:
    """Import the files into project ``name`` of a DuckDB file as `concord import` does; return problems."""
    from store.db import Store
    from store.importer import import_files

    started = time.perf_counter()
    with Store(db_path) as db:
        report = import_files(db, paths, project=name)
    seconds = time.perf_counter() - started
    print(f"imported {report.n_turns} of {report.n_read} turns into {db_path}:{name} in {seconds:.2f}s "
          f"({report.n_duplicates} duplicates reported, {len(report.problems)} problems)")
    for problem in report.problems[:5]:
        print(f"    {problem}")
    return len(report.problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", default=list(DEFAULT_SETS), help=f"from {list(names())}")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default bench/out/data)")
    parser.add_argument("--import-db", type=Path, help="also import each set into this DuckDB file, one project per set")
    args = parser.parse_args(argv)
    if not available():
        print("the shared data is absent (set CONCORD_SHARED_DATA); nothing to convert", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    problems = 0
    for name in args.sets:
        paths = convert(name, args.out)
        problems += verify(paths)
        if args.import_db:
            problems += import_into(args.import_db, name, paths)
    print("OK: every file reads back with zero problems" if not problems else f"FAILED: {problems} problems")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
