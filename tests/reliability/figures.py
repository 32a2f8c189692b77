"""Reliability tests report figures (latencies, recovery times); they are collected here for the README."""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability.json"


def report(name: str, **figures) -> None:
    """Print the figures and merge them into test-artifacts/reliability.json."""
    print(f"\n[reliability] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[name] = figures
    OUT.write_text(json.dumps(data, indent=2, sort_keys=True))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
