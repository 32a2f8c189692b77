"""Simulated active learning: replay the labelling loop with the pool's own labels as the oracle.

``simulate(pool, test, strategies=[...])`` starts from a cold-start sample, then repeatedly refits
the model on what is "labelled", scores the rest of the pool, asks the strategy for the next batch
and records test metrics: a learning curve (labels vs intent accuracy / macro-F1, entity F1) with
mean and spread over repeats, plus the full-data reference. The result has the CURVE.json shape
other tools read (see ``write_curve``).

Two learners, same loop: intent-only data in ``fast`` mode fits the intent head directly on
embeddings computed once (the encoder's disk cache), which makes hundreds of refits cheap; data
with entity spans or sentiment (or ``mode="full"``) retrains the whole ``Extractor`` each step.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from pipeline.active.selection import BASE_STRATEGIES, DEFAULT_COLD_START, parse_strategy, select_batch
from pipeline.simulate_learners import EmbeddingLearner, ExtractorLearner, data_shape

METRICS = ("intent_accuracy", "intent_macro_f1", "entity_f1")
TARGET_FRACTION = 0.95
HEAD_THREADS = 1
COMMITTEE_SIZE = 5  # bootstrap heads behind 'bald'
# What ``--strategy all`` compares: every base that optimises the measured labels, plus the
# diversity variants of margin. Not in "all" (still selectable by name): alignment_driven (it
# targets response-fit labels, which the intent / entity curve does not measure), bald (5 extra
# head fits per step, and on SGD it lost 9.8 AUC points to random: bootstrap heads disagree most
# on outliers), and the variants that lost to margin+prefilter in bench/bench_active.py runs:
# rarity (NLU++ ~ random), second_best and focused_margin (no exploration: Bitext -12 to -17
# points early).
ALL_STRATEGIES = ("random", "least_confidence", "margin", "entropy", "badge", "coreset",
                  "margin+kmeans_pp", "margin+cluster", "margin+prefilter", "local_margin+adaptive",
                  "cardinality_margin+adaptive")


@dataclass(frozen=True)
class LoopSettings:
    """How one simulated labelling session runs."""

    seed_size: int = 20
    batch_size: int = 20
    budget: int | None = None      # total labels at the end; None -> min(pool, seed + 20 batches)
    repeats: int = 3
    mode: str = "fast"
    cold_start: str = DEFAULT_COLD_START
    seed: int = 0

    def validate(self, n_pool: int) -> None:
        for name in ("seed_size", "batch_size", "repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if self.budget is not None and not self.seed_size <= self.budget:
            raise ValueError(f"budget: expected at least seed_size ({self.seed_size}), got {self.budget}")
        if self.mode not in ("fast", "full"):
            raise ValueError(f"mode: expected 'fast' or 'full', got {self.mode!r}")
        if n_pool < self.seed_size:
            raise ValueError(f"pool: expected at least seed_size ({self.seed_size}) labelled turns, got {n_pool}")


def label_steps(n_pool: int, settings: LoopSettings) -> list[int]:
    """The label counts at which the curve is measured: seed, seed + batch, ..., budget."""
    budget = settings.budget or settings.seed_size + 20 * settings.batch_size
    budget = min(budget, n_pool)
    steps = list(range(settings.seed_size, budget + 1, settings.batch_size))
    if steps[-1] != budget:
        steps.append(budget)
    return steps


def labels_to_reach(labels: Sequence[int], values: Sequence[float], target: float) -> int | None:
    """The first label count whose value reaches ``target`` (None if the curve never does)."""
    for n, v in zip(labels, values):
        if v is not None and not math.isnan(v) and v >= target:
            return int(n)
    return None


def curve_auc(labels: Sequence[int], values: Sequence[float]) -> float:
    """Area under the learning curve, normalised by the label range: the mean metric over budgets."""
    x, y = np.asarray(labels, dtype=float), np.asarray(values, dtype=float)
    if len(x) < 2 or x[-1] == x[0]:
        return float(y[0]) if len(y) else float("nan")
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / (x[-1] - x[0]))


def resolve_strategies(names: str | Sequence[str]) -> list[str]:
    """``"all"`` -> ``ALL_STRATEGIES``; otherwise each name is checked (comma-separated allowed)."""
    if isinstance(names, str):
        names = list(ALL_STRATEGIES) if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    out = []
    for name in names:
        parsed = parse_strategy(name)
        if parsed.base == "alignment_driven":
            raise ValueError("strategy 'alignment_driven': expected a strategy for intent/entity labels; "
                             "it selects by response-fit uncertainty, which this curve does not measure")
        out.append(parsed.name)
    if not out:
        raise ValueError(f"strategy: expected one of {list(BASE_STRATEGIES)} or 'all', got none")
    return out


def _make_learner(pool, test, settings: LoopSettings, encoder):
    shape = data_shape(pool)
    if settings.mode == "fast" and not shape["has_spans"] and not shape["has_sentiment"]:
        return EmbeddingLearner(pool, test, encoder=encoder)
    return ExtractorLearner(pool, test, encoder=encoder, mode=settings.mode)


def _initial_batch(strategy: str, learner, settings: LoopSettings, rng_seed: int) -> np.ndarray:
    """Random picks a random seed set; every other strategy starts with diverse cold-start sampling."""
    method = "random" if parse_strategy(strategy).base == "random" else settings.cold_start
    return select_batch(strategy, batch_size=settings.seed_size, embeddings=learner.pool_embeddings,
                        cold_start=method, seed=rng_seed)


def run_once(strategy: str, learner, settings: LoopSettings, steps: list[int], *, repeat: int,
             progress: Callable[[str], None] | None = None) -> dict[str, list[float]]:
    """One simulated session: the metrics at each label count in ``steps``."""
    seed = settings.seed + 1000 * repeat
    learner.reset()     # a cold start: each session begins from no model, whatever ran before it
    n = learner.n_pool
    labelled = np.zeros(n, dtype=bool)
    labelled[_initial_batch(strategy, learner, settings, seed)] = True
    history: dict[str, list[float]] = {}
    for step in range(len(steps)):
        learner.fit(np.flatnonzero(labelled), seed=seed)
        for key, value in learner.evaluate().items():
            history.setdefault(key, []).append(value)
        if progress:
            progress(f"{strategy} repeat {repeat + 1}: {int(labelled.sum())} labels, "
                     f"accuracy {history['intent_accuracy'][-1]:.3f}")
        if step + 1 == len(steps):
            break
        rest = np.flatnonzero(~labelled)
        committee = COMMITTEE_SIZE if parse_strategy(strategy).base == "bald" else 0
        arrays = learner.pool_arrays(rest, labelled_idx=np.flatnonzero(labelled), committee=committee,
                                     seed=seed + step)
        picks = select_batch(strategy, batch_size=steps[step + 1] - int(labelled.sum()),
                             seed=seed + step + 1, **arrays)
        labelled[rest[picks]] = True
    return history


def summarise(labels: list[int], runs: list[dict[str, list[float]]], full_data: dict) -> dict:
    """Mean and std over repeats per metric, labels to 95% of full-data accuracy, and the AUC."""
    out: dict = {"labels": labels}
    for metric in METRICS:
        if metric not in runs[0]:
            continue
        values = np.array([run[metric] for run in runs], dtype=float)
        out[f"{metric}_mean"] = [round(float(v), 5) for v in values.mean(axis=0)]
        out[f"{metric}_std"] = [round(float(v), 5) for v in values.std(axis=0)]
    target = TARGET_FRACTION * full_data["intent_accuracy"]
    out["labels_to_95pct"] = labels_to_reach(labels, out["intent_accuracy_mean"], target)
    out["auc"] = round(curve_auc(labels, out["intent_accuracy_mean"]), 5)
    return out


def simulate(pool: list[dict], test: list[dict], *, strategies: str | Sequence[str] = "all",
             settings: LoopSettings = LoopSettings(), encoder=None,
             progress: Callable[[str], None] | None = None) -> dict:
    """Run every strategy ``settings.repeats`` times; return the CURVE.json dict.

    ``pool``/``test``: native turn records with labels (the pool's labels are the oracle);
    ``encoder``: an ``Encoder``, a name/path for ``load_encoder``, or None for the packaged one.
    """
    names = resolve_strategies(strategies)
    learner = _make_learner(pool, test, settings, encoder)  # embeds once (torch threads as configured)
    settings.validate(learner.n_pool)
    steps = label_steps(learner.n_pool, settings)
    # Small repeated head fits: one BLAS/OpenMP thread is far faster than two fighting over a shared
    # CPU (measured 0.05 s vs 2 s CPU for a 200-row, 27-class fit under load).
    with threadpool_limits(limits=HEAD_THREADS):
        started = time.perf_counter()
        learner.fit(np.arange(learner.n_pool), seed=settings.seed)
        full_data = {k: round(float(v), 5) for k, v in learner.evaluate().items()}
        if progress:
            progress(f"full data ({learner.n_pool} labels): {full_data} in {time.perf_counter() - started:.1f}s")
        curves = {}
        for name in names:
            runs = [run_once(name, learner, settings, steps, repeat=r, progress=progress)
                    for r in range(settings.repeats)]
            curves[name] = summarise(steps, runs, full_data)
    return {"full_data": full_data, "strategies": curves}


def curve_figure(curve: dict):
    """A Plotly figure: one panel per metric, mean line and +-std band per strategy."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    metrics = [m for m in METRICS if any(f"{m}_mean" in c for c in curve["strategies"].values())]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    palette = qualitative.Plotly + qualitative.D3
    for i, (name, c) in enumerate(curve["strategies"].items()):
        colour = palette[i % len(palette)]
        for col, metric in enumerate(metrics, start=1):
            mean, std = np.array(c[f"{metric}_mean"]), np.array(c[f"{metric}_std"])
            band_x = list(c["labels"]) + list(c["labels"])[::-1]
            band_y = list(mean + std) + list(mean - std)[::-1]
            fig.add_trace(go.Scatter(x=band_x, y=band_y, fill="toself", fillcolor=colour, opacity=0.15,
                                     line={"width": 0}, hoverinfo="skip", showlegend=False,
                                     legendgroup=name), row=1, col=col)
            fig.add_trace(go.Scatter(x=c["labels"], y=mean, mode="lines+markers", name=name,
                                     line={"color": colour}, legendgroup=name, showlegend=col == 1),
                          row=1, col=col)
            if metric in curve["full_data"]:
                fig.add_hline(y=curve["full_data"][metric], line_dash="dash", line_color="grey", row=1, col=col)
    target = TARGET_FRACTION * curve["full_data"]["intent_accuracy"]
    fig.add_hline(y=target, line_dash="dot", line_color="black", row=1, col=1,
                  annotation_text="95% of full data")
    fig.update_xaxes(title_text="labels")
    fig.update_layout(title="Active learning curves (mean +- std over repeats)", height=480,
                      width=max(700, 480 * len(metrics)))
    return fig


def write_curve(curve: dict, out_path) -> list:
    """Write CURVE.json, CURVE.html beside it, and CURVE.png when kaleido is installed."""
    import importlib.util
    import json
    from pathlib import Path

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(curve, indent=2) + "\n", encoding="utf-8")
    written = [out]
    fig = curve_figure(curve)
    html = out.with_suffix(".html")
    fig.write_html(html, include_plotlyjs=True)  # self-contained: opens offline
    written.append(html)
    if importlib.util.find_spec("kaleido") is not None:
        png = out.with_suffix(".png")
        fig.write_image(png)
        written.append(png)
    return written
