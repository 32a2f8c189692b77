"""The annotator's progress panel: my count today, project coverage, per-label counts.

Per-label counts come from the effective labels of the whole project, which is the costly part with
100k turns, so they are cached for a few seconds per project; "my count today" is cheap and live.
"""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from store import annotations

COUNTS_TTL_S = 20.0
_cache: dict[str, tuple[float, dict]] = {}


def project_progress(db, project: str, annotator: str, *, now: float | None = None) -> dict:
    """``annotations.progress`` with the project-wide part cached for ``COUNTS_TTL_S`` seconds."""
    now = time.monotonic() if now is None else now
    key = f"{id(db)}:{project}"
    cached = _cache.get(key)
    if cached is None or now - cached[0] > COUNTS_TTL_S:
        whole = annotations.progress(db, project, None)
        _cache[key] = (now, whole)
        cached = _cache[key]
    mine = annotations.progress(db, project, annotator)["mine_today"] if cached[1]["total"] else 0
    return {**cached[1], "mine_today": mine}


def forget(db, project: str) -> None:
    """Drop the cached counts (after this session changed them, so the panel is not stale)."""
    _cache.pop(f"{id(db)}:{project}", None)


def render_progress(progress: dict, *, max_labels: int = 12) -> None:
    total, labelled = progress["total"], progress["labelled"]
    left, right = st.columns(2)
    left.metric("Mine today", progress["mine_today"])
    right.metric("Labelled", f"{labelled:,}", help=f"{labelled:,} of {total:,} turns have labels")
    st.progress(labelled / total if total else 0.0, text=f"Coverage {labelled / total:.1%}" if total else "No turns")
    per_label = progress.get("per_label") or {}
    if per_label:
        counts = pd.DataFrame(sorted(per_label.items(), key=lambda kv: -kv[1])[:max_labels],
                              columns=["intent", "turns"])
        st.dataframe(counts, hide_index=True, width="stretch", height=min(36 * (len(counts) + 1), 300))
