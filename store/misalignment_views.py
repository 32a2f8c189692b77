"""The Misalignment page's reads: every scored turn's alignment score with its current intent, fit and
annotators (one cached frame per run and data version), the histogram and worst-aligned table drawn from
it under the same filters, and which turns already carry a corrected response.

Split from ``store.analysis`` (which re-exports these names) to keep each module near 400 lines; the
rules there apply here: SQL over the store, current labels from ``store.current``, renamed labels mapped
to today's names on the small results.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from store.current import cached, over_current, turn_texts
from store.labels import rename_map
from store.model_snapshot import resolve_run


def alignment_histogram(db, project: str = "default", *, run_id: str | None = None, bins: int = 20,
                        **filters) -> pd.DataFrame:
    """Counts of the run's alignment scores per bin of width 1/bins (``bin_start``, ``count``; empty bins left
    out), over the turns ``filters`` keep (``worst_aligned``'s: the chart and the table show the same turns)."""
    f = alignment_frame(db, project, run_id=run_id)
    if f is None:
        return pd.DataFrame(columns=["bin_start", "count"])
    scores = _alignment_filtered(f, **filters)["alignment_score"].to_numpy(float)
    counts = pd.Series(np.minimum(np.floor(scores * bins), bins - 1) / bins).value_counts().sort_index()
    return pd.DataFrame({"bin_start": counts.index.to_numpy(float), "count": counts.to_numpy(int)})


def alignment_frame(db, project: str = "default", *, run_id: str | None = None) -> pd.DataFrame | None:
    """Every scored turn of the run: turn_id, seq, alignment_score, misalignment_prob, intent (current label,
    else predicted), aligned (judged), annotators (",a,b,"), labelled_at. Kept while the data is unchanged."""
    run = resolve_run(db, project, run_id)
    if run is None:
        return None
    return cached("alignment", db, project, lambda: _build_alignment_frame(db, project, run), run["run_id"])


def _build_alignment_frame(db, project: str, run: dict) -> pd.DataFrame:
    frame = over_current(db, project, """
        SELECT p.turn_id, t.seq, p.alignment_score, p.misalignment_prob, coalesce(c.intents[1], p.intents[1]) AS intent,
               c.aligned, ',' || array_to_string(list_sort(c.annotators), ',') || ',' AS annotators, c.labelled_at
        FROM predictions p JOIN turns t ON t.turn_id = p.turn_id LEFT JOIN cur c ON c.turn_id = p.turn_id
        WHERE p.run_id = $run AND p.alignment_score IS NOT NULL AND t.project = $p""", {"run": run["run_id"]})
    names = rename_map(db, project, "intent")
    if names:
        frame["intent"] = frame["intent"].map(lambda v: names.get(v, v) if isinstance(v, str) else v)
    return frame


def worst_aligned(db, project: str = "default", *, run_id: str | None = None, intent: str | None = None,
                  annotator: str | None = None, since=None, until=None, limit: int = 50) -> pd.DataFrame:
    """Turns whose response fits worst (lowest alignment score), with intent (label, else predicted) and
    ``fit_label``, the response fit as currently labelled ("aligned", "misaligned" or "not judged"), so
    the analyst sees which low scores are already labelled misaligned and which still need a look, and
    ``corrected``: a corrected response is already stored for the turn (``_corrected_ids``).

    Filters: ``intent`` (current label or prediction), ``annotator`` (who labelled it), ``since``/``until``
    (when it was labelled), the model version via ``run_id``.
    """
    columns = ["turn_id", "text", "response", "intent", "alignment_score", "misalignment_prob", "aligned", "fit_label",
               "corrected", "annotators"]
    f = alignment_frame(db, project, run_id=run_id)
    if f is None:
        return pd.DataFrame(columns=columns)
    worst = _alignment_filtered(f, intent=intent, annotator=annotator, since=since, until=until)
    worst = worst.sort_values(["alignment_score", "seq"]).head(limit)
    out = worst.merge(turn_texts(db, worst["turn_id"].tolist()), on="turn_id", how="left")
    out["annotators"] = out["annotators"].map(lambda v: v.strip(",").replace(",", ", ") if isinstance(v, str) else "")
    out["fit_label"] = out["aligned"].map(fit_label)
    out["corrected"] = out["turn_id"].isin(_corrected_ids(db, out["turn_id"].tolist()))
    return out[columns].reset_index(drop=True)


def _corrected_ids(db, turn_ids: list[str]) -> set[str]:
    """The turns whose stored labels carry a corrected response: the record the correction form starts from
    (``annotations.turn_state``: the latest live adjudication, else the latest live submit)."""
    from store.queue import LIVE_LABELS

    return {r[0] for r in db.query(f"""SELECT turn_id, corrected_response FROM ({LIVE_LABELS})
        WHERE turn_id IN (SELECT unnest($ids)) QUALIFY row_number() OVER (PARTITION BY turn_id
        ORDER BY action = 'adjudicate' DESC, seq DESC) = 1""", {"ids": list(turn_ids)}) if (r[1] or "").strip()}


def _alignment_filtered(f: pd.DataFrame, *, intent: str | None = None, annotator: str | None = None,
                        since=None, until=None) -> pd.DataFrame:
    """The rows of an ``alignment_frame`` the misalignment filters keep (see ``worst_aligned``)."""
    keep = np.ones(len(f), dtype=bool)
    if intent:
        keep &= (f["intent"] == intent).to_numpy()
    if annotator:
        keep &= f["annotators"].str.contains(f",{annotator},", regex=False).fillna(False).to_numpy(bool)
    if since is not None:
        keep &= (f["labelled_at"] >= pd.Timestamp(since)).fillna(False).to_numpy(bool)
    if until is not None:
        keep &= (f["labelled_at"] < pd.Timestamp(until)).fillna(False).to_numpy(bool)
    return f[keep]


def fit_label(aligned) -> str:
    """The words for a judged response fit; missing (None, NaN, pd.NA) is "not judged"."""
    if aligned is None or pd.isna(aligned):
        return "not judged"
    return "aligned" if bool(aligned) else "misaligned"
