"""The end every dataset bench shares: skip when ../shared lacks the data, else measure, keep the JSON
under bench/out and print the table."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable


def run_and_report(args, *, dataset: str, run: Callable, print_table: Callable[[dict], None], out: Path) -> int:
    """``run(args)`` -> result dict, written to ``out`` and printed with ``print_table``; 1 when the
    dataset is not in ../shared/data (a user's clone has none), so callers can exit with it."""
    from bench.datasets import available

    if not available(dataset):
        print(f"{dataset} data not found (../shared/data/{dataset}); nothing to measure", file=sys.stderr)
        return 1
    result = run(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print_table(result)
    print(f"\nwrote {out}")
    return 0
