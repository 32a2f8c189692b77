"""The annotator's progress panel: my count today, turns left for me, project coverage, per-label counts.

The counts come from the effective labels of the whole project, the costly part of a page run with
100k turns, so they are read at most every ``COUNTS_TTL_S`` seconds per annotator; this session's
own submits and undos adjust the cached figures at once, so the panel never lags behind the
annotator's own work.
"""
from __future__ import annotations

import threading
import time

import pandas as pd
import streamlit as st

from store import annotations

COUNTS_TTL_S = 20.0
_cache: dict[tuple, tuple[float, dict]] = {}
_lock = threading.Lock()


def project_progress(db, project: str, annotator: str, *, now: float | None = None) -> dict:
    """``annotations.progress`` for this annotator, refreshed from the store every ``COUNTS_TTL_S`` s."""
    now = time.monotonic() if now is None else now
    key = (db.path, project, annotator)
    with _lock:
        cached = _cache.get(key)
    if cached is None or now - cached[0] > COUNTS_TTL_S:
        cached = (now, annotations.progress(db, project, annotator))
        with _lock:
            _cache[key] = cached
    return dict(cached[1])


def count_own(db, project: str, annotator: str, delta: int, intents: list[str] = (), *,
              replaced: list[str] | None = None, left: int | None = None) -> None:
    """Apply one submit (+1), undo (-1) or skip (0, ``left=-1``) of this annotator to the cached
    figures. A submit that ``replaced`` their earlier labels of the turn counts no new turn: only its
    intents change. ``left``: the change in turns left for them (by default the turns counted, negated)."""
    with _lock:
        cached = _cache.get((db.path, project, annotator))
        if cached is None:
            return
        figures = dict(cached[1])
        turns = 0 if replaced is not None else delta
        figures["mine_today"] = max(0, figures["mine_today"] + turns)
        figures["available"] = max(0, figures.get("available", 0) + (-turns if left is None else left))
        figures["labelled"] = min(figures["total"], max(0, figures["labelled"] + turns))
        per_label = dict(figures.get("per_label") or {})
        for intent in replaced or ():
            per_label[intent] = max(0, per_label.get(intent, 0) - 1)
        for intent in intents:
            per_label[intent] = max(0, per_label.get(intent, 0) + delta)
        figures["per_label"] = per_label
        _cache[(db.path, project, annotator)] = (cached[0], figures)


def forget(db, project: str, annotator: str) -> None:
    """Drop this annotator's cached figures (after a change the cache cannot follow, e.g. skipped turns
    given back), so the panel reads the store on its next run."""
    with _lock:
        _cache.pop((db.path, project, annotator), None)


FIGURES_KEY = "label_progress_figures"
# Each figure on one line, name left and number right: three st.metric side by side in the sidebar's
# width cut their names to "Min…", "Left…", "Lab…".
FIGURES_CSS = ("<style>.st-key-label_progress_figures{gap:.1rem}"
               ".st-key-label_progress_figures [data-testid='stMetric']>div{display:flex;flex-direction:row;"
               "align-items:center;justify-content:space-between;gap:.5rem}"
               ".st-key-label_progress_figures [data-testid='stMetricLabel']{margin:0;min-height:0}"
               ".st-key-label_progress_figures [data-testid='stMetricValue']{font-size:1.1rem;line-height:1.5}</style>")


def render_progress(progress: dict, *, max_labels: int = 12) -> None:
    """The figures (one compact line each, help on hover), the coverage bar and the per-intent counts."""
    total, labelled = progress["total"], progress["labelled"]
    st.html(FIGURES_CSS)
    with st.container(key=FIGURES_KEY):
        st.metric("Mine today", progress["mine_today"],
                  help="Turns you labelled today (a relabelled turn counts once)")
        st.metric("Left for me", f"{progress.get('available', 0):,}",
                  help="Turns you may still label: not labelled or skipped by you, not yet labelled or "
                       "held by enough other annotators")
        st.metric("Labelled", f"{labelled:,}", help=f"{labelled:,} of {total:,} turns have labels")
    st.progress(min(1.0, labelled / total) if total else 0.0,
                text=f"Coverage {labelled / total:.1%}" if total else "No turns")
    per_label = {k: v for k, v in (progress.get("per_label") or {}).items() if v}
    if per_label:
        counts = pd.DataFrame(sorted(per_label.items(), key=lambda kv: -kv[1])[:max_labels],
                              columns=["intent", "turns"])
        st.dataframe(counts, hide_index=True, width="stretch", height=min(36 * (len(counts) + 1), 300))
