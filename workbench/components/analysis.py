"""Building blocks of the analyst pages: run picker, Plotly charts with selection, turn tables and the
evidence panel (the one-click fixes are in ``workbench.components.fixes``).

Pages compose these in a few dozen lines; every read goes through ``store.analysis`` (no SQL here).
User dialog text is shown only with ``st.text`` and ``st.dataframe``; label names that reach Plotly
(ticks, legends) are HTML-escaped because Plotly renders a subset of HTML in chart text, and no
dialog text is ever put into a chart.
"""
from __future__ import annotations

import functools
import html
import math

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
import streamlit as st

from store import analysis, annotations, evidence
from workbench import runtime
from workbench.components.notice import notice


ANALYST_ROLES = ("analyst", "admin")
FLASH_KEY = "analysis_flash"


def project_name() -> str:
    return runtime.parse_settings().project


def analyst_page(body):
    """``render(db, user)`` for an analyst page whose ``body(db, user, project)`` draws it: after the body
    (also when it returns early or stops), the other analyst pages' caches fill in the background.
    After, not before: on 2 cores a prewarm running alongside would slow the cold queries of the page
    being looked at, and the next page only needs its caches by the time the analyst opens it."""
    @functools.wraps(body)
    def render(db, user) -> None:
        project = project_name()
        try:
            body(db, user, project)
        finally:
            analysis.prewarm(db, project)

    return render


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    """The outcome of the last one-click fix, inside its coloured box. The message may quote turn ids and
    label names (user text), so it goes through ``notice`` (escaped HTML), not a Markdown alert."""
    kind, message = st.session_state.pop(FLASH_KEY, (None, None))
    if kind is not None:
        notice(kind, message)


# ------------------------------------------------------------------------------ pickers
def run_picker(db, project: str, *, key: str) -> str | None:
    """A model-version select box (newest first); None when no run has predictions yet."""
    versions = analysis.model_versions(db, project)
    if not versions:
        st.info("No model run with predictions yet. The worker trains one after the first labels; "
                "this view fills in then.")
        return None
    names = {v["run_id"]: f"{v['model_version']}  ({v['finished_at']:%Y-%m-%d %H:%M})" if v["finished_at"]
             else v["model_version"] for v in versions}
    return st.selectbox("Model version", list(names), format_func=names.get, key=key)


def scope_note(scope: str | None) -> None:
    """Which turns a view compares: the held-out slice, or every labelled turn (possibly in-sample)."""
    if scope == "labelled":
        st.caption("Scope: every labelled turn the run scored, against today's labels. The run recorded no "
                   "held-out slice, so these predictions may be in-sample (optimistic).")
    elif scope == "held-out":
        st.caption("Scope: the run's held-out turns (out-of-sample), against today's labels: corrections made "
                   "since the run count here.")


# ------------------------------------------------------------------------------- charts
def _safe(labels) -> list[str]:
    return [_plotly_text(x) for x in labels]


def _plotly_text(value) -> str:
    """Escape <, > and & so Plotly's pseudo-HTML renders a label as text; quotes stay as they are
    (Plotly shows ``&quot;`` literally, and without a ``<`` no tag or attribute can start)."""
    return html.escape(str(value), quote=False)


# Two colour scales over log counts: the diagonal holds most turns and an error cell often one, so one linear
# scale left the errors -- the cells an analyst clicks -- nearly white. Errors get their own hue (red; correct
# blue), each hue spans the log of its own counts between a visible floor and a top that still shows the hue,
# and every cell prints its count, so no number depends on a colour. Zero cells are not drawn (blank).
CORRECT_SCALE, ERROR_SCALE, COLOUR_FLOOR, COLOUR_TOP = "Blues", "Reds", 0.4, 0.85


def cell_colours(counts: list[int], on_diagonal: list[bool]) -> tuple[list[str], list[str]]:
    """(fill, text colour) per cell: blue for given = predicted, red for errors, darker for more turns
    (log scale within each group, from ``COLOUR_FLOOR``); white text on the dark fills. One
    ``sample_colorscale`` call per hue: per cell it cost 3.3 s for a 77-intent matrix."""
    group_max = {d: max(c for c, e in zip(counts, on_diagonal) if e == d) for d in set(on_diagonal)}
    levels = [COLOUR_FLOOR + (COLOUR_TOP - COLOUR_FLOOR) * math.log1p(c) / math.log1p(group_max[d])
              for c, d in zip(counts, on_diagonal)]
    fills: list[str] = [""] * len(counts)
    for diagonal, scale in ((True, CORRECT_SCALE), (False, ERROR_SCALE)):
        rows = [i for i, d in enumerate(on_diagonal) if d == diagonal]
        if rows:
            for i, colour in zip(rows, sample_colorscale(scale, [float(levels[i]) for i in rows])):
                fills[i] = colour
    return fills, ["white" if level > 0.6 else "#1f1f1f" for level in levels]


def _unvalidated_figure(trace: dict) -> go.Figure:
    """A figure of one trace we built ourselves, without plotly's per-element validation: it checked every
    cell's two colour strings, 0.2 s of a 77-intent matrix's first render. ``_validate`` is how plotly
    express skips it too; a plotly without the option validates as before."""
    try:
        return go.Figure(data=[trace], _validate=False)
    except TypeError:
        return go.Figure(data=[trace])


def confusion_figure(data: dict, *, title: str) -> go.Figure:
    """The confusion matrix drawn as square markers (one per non-empty cell, in row order) so a click
    selects a cell; each shows its count, coloured as ``cell_colours`` says."""
    labels, matrix = data["labels"], data["matrix"]
    cells = [(i, j) for i in range(len(labels)) for j in range(len(labels)) if matrix[i][j]]
    counts = [int(matrix[i][j]) for i, j in cells]
    fills, inks = cell_colours(counts, [i == j for i, j in cells])
    side = max(6, min(28, int(560 / max(1, len(labels)))))
    fig = _unvalidated_figure(dict(
        type="scatter", x=[_plotly_text(labels[j]) for _, j in cells], y=[_plotly_text(labels[i]) for i, _ in cells],
        mode="markers+text", customdata=[[i, j] for i, j in cells], text=[str(c) for c in counts],
        textposition="middle center", textfont=dict(color=inks, size=max(8, min(12, side // 2))),
        marker=dict(symbol="square", size=side, color=fills, line=dict(width=0)),
        hovertemplate="given %{y}<br>predicted %{x}<br>%{text} turns<extra></extra>"))
    order = _safe(labels)
    fig.update_layout(title=dict(text=title, subtitle=dict(
                          text="number: turns · blue: given = predicted · red: errors · darker: more (log)")),
                      height=max(380, 22 * len(labels) + 180), margin=dict(l=10, r=10, t=70, b=10),
                      xaxis=dict(title="predicted", categoryorder="array", categoryarray=order, tickangle=-45),
                      yaxis=dict(title="given", categoryorder="array", categoryarray=order[::-1]),
                      plot_bgcolor="white")
    return fig


def selected_cell(event, labels: list[str]) -> tuple[str, str] | None:
    """(given, predicted) of the clicked cell in a ``confusion_figure`` selection event."""
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", []) or []
    for point in points:
        custom = point.get("customdata") if isinstance(point, dict) else None
        if custom is not None and len(custom) == 2:
            return labels[int(custom[0])], labels[int(custom[1])]
    return None


@functools.lru_cache(maxsize=16)
def _cached_confusion_figure(labels: tuple, matrix: tuple, title: str) -> go.Figure:
    """Plotly validates every cell's colour when a figure is built (~0.3 s for 77 intents): a rerun of
    the same matrix (every click on the page) reuses the figure. Streamlit only reads it."""
    return confusion_figure({"labels": list(labels), "matrix": [list(row) for row in matrix]}, title=title)


def confusion_with_cell_picker(data: dict, *, key: str, title: str) -> tuple[str, str] | None:
    """The clickable matrix plus two select boxes (keyboard, tests) that follow the click."""
    labels = data["labels"]
    figure = _cached_confusion_figure(tuple(labels), tuple(map(tuple, data["matrix"])), title)
    event = st.plotly_chart(figure, on_select="rerun", selection_mode="points", key=f"{key}_chart", width="stretch")
    clicked = selected_cell(event, labels)
    if clicked is not None and clicked != st.session_state.get(f"{key}_last_click"):
        st.session_state[f"{key}_last_click"] = clicked
        st.session_state[f"{key}_given"], st.session_state[f"{key}_pred"] = clicked
    errors = [(data["matrix"][i][j], i, j) for i in range(len(labels)) for j in range(len(labels))
              if i != j and data["matrix"][i][j]]
    if f"{key}_given" not in st.session_state and errors:
        _, i, j = max(errors, key=lambda e: e[0])
        st.session_state[f"{key}_given"], st.session_state[f"{key}_pred"] = labels[i], labels[j]
    left, right = st.columns(2)
    given = left.selectbox("Given label (row)", labels, key=f"{key}_given")
    predicted = right.selectbox("Predicted label (column)", labels, key=f"{key}_pred")
    return (given, predicted) if given is not None and predicted is not None else None


def map_figure(points: pd.DataFrame) -> go.Figure:
    """The 2-D map: one trace per intent (colour), marker size by misalignment probability, turn id as
    customdata for selections. Built with graph_objects: plotly express took 1.5 s for 4,000 points."""
    fig = go.Figure()
    size = 5 + 14 * points["misalignment_prob"].fillna(0.0).to_numpy(float)
    for intent, rows in points.groupby("intent", sort=True).indices.items():
        fig.add_trace(go.Scatter(
            x=points["x"].to_numpy()[rows], y=points["y"].to_numpy()[rows], mode="markers", name=_plotly_text(intent),
            customdata=points["turn_id"].to_numpy()[rows, None], marker=dict(size=size[rows], opacity=0.75, line=dict(width=0)),
            hovertemplate="%{customdata[0]}<extra>%{fullData.name}</extra>"))
    fig.update_layout(height=520, legend_title_text="intent", margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(showticklabels=False, title="PC 1"), yaxis=dict(showticklabels=False, title="PC 2"),
                      plot_bgcolor="white")
    return fig


def bar_figure(frame: pd.DataFrame, *, x: str, y: str, title: str, y_range=(0, 1)) -> go.Figure:
    fig = go.Figure(go.Bar(x=_safe(frame[x]), y=frame[y]))
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(range=list(y_range)))
    return fig


def _label_count_axis(done: pd.DataFrame) -> dict:
    """An x-axis of whole label counts: ticks at the runs' own counts when there are few (one run would
    otherwise get ticks like 206.5), else Plotly's own ticks (12+ distinct counts span 11+, so its steps
    are whole numbers), printed as integers."""
    counts = sorted({int(n) for n in done["n_labels"].dropna()}) if "n_labels" in done else []
    if 0 < len(counts) <= 12:
        return dict(title="labels", tickmode="array", tickvals=counts, ticktext=[str(n) for n in counts])
    return dict(title="labels", tickformat="d")


HELD_OUT_NAMES = {"intent_accuracy": "held-out intent accuracy", "intent_macro_f1": "held-out intent macro-F1",
                  "entity_f1": "held-out entity F1", "sentiment_macro_f1": "held-out sentiment macro-F1"}


def percent(value) -> str:
    """A score as both analyst pages print it (71.4%); "-" when undefined."""
    return f"{100 * float(value):.1f}%" if isinstance(value, (int, float)) and value == value else "-"


def percent_table(frame: pd.DataFrame, columns: list[str]):
    """``frame`` for st.dataframe with its score ``columns`` printed like ``percent`` and undefined ones
    empty (the data stays fractions, so sorting still works); pass ``placeholder=""`` too."""
    shown = [c for c in columns if c in frame.columns]
    return frame.style.format("{:.1%}", subset=shown, na_rep="") if shown and not frame.empty else frame


def learning_curve_figure(runs: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    done = runs[runs["status"] == "done"] if not runs.empty else runs
    for metric, name in HELD_OUT_NAMES.items():
        if metric in done and done[metric].notna().any():
            fig.add_trace(go.Scatter(x=done["n_labels"], y=done[metric], mode="lines+markers", name=name))
    fig.update_layout(title="Learning curve (held-out scores vs labels)", height=320, xaxis=_label_count_axis(done),
                      yaxis=dict(range=[0, 1], tickformat=".0%"), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def reliability_figure(bins: pd.DataFrame) -> go.Figure:
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line=dict(dash="dot")),
                     go.Scatter(x=bins["confidence"], y=bins["accuracy"], mode="lines+markers", name="model",
                                text=bins["count"], hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}"
                                                                  "<br>%{text} turns<extra></extra>")])
    fig.update_layout(title="Calibration (reliability diagram)", height=320, xaxis_title="confidence",
                      yaxis_title="accuracy", margin=dict(l=10, r=10, t=40, b=10))
    return fig


# --------------------------------------------------------------------------- turn tables
def pick_turn(frame: pd.DataFrame, *, key: str, columns: list[str] | None = None, id_column: str = "turn_id",
              require_pick: bool = False, column_config: dict | None = None) -> dict | None:
    """A selectable table of turns (text shown by st.dataframe); returns the selected row as a dict.
    ``id_column`` names a row (e.g. ``row_id`` when a turn has several rows, one per entity span).
    ``require_pick``: None until a row is ticked (for a page whose primary button writes, so it never acts
    on a row nobody chose); without it the first row is shown until one is. A tick keeps meaning the row
    ticked, not whatever row later moved to its place (Streamlit keeps the row number when the table loses
    a row, e.g. the one just fixed): when the ticked row has left the table the page says so and shows no
    row, rather than the first one under the same buttons, where a second click fixed a row nobody chose.
    ``column_config``: widths and formats (st.dataframe's). Missing values are empty cells: st.dataframe
    draws None and NaN alike as "None" unless ``placeholder=""``, which reads as a label named None."""
    if frame.empty:
        st.text("No turns here.")
        return None
    shown = frame[columns] if columns else frame
    event = st.dataframe(shown, key=key, on_select="rerun", selection_mode="single-row", hide_index=True,
                         width="stretch", height=min(400, 38 + 35 * len(shown)), placeholder="",
                         column_config=column_config)
    rows = list(event.selection.rows) if event is not None else []
    choice = st.session_state.get(f"{key}_pick")
    if rows and not (require_pick and st.session_state.get(f"{key}_pick_rows") == rows):
        choice = frame.iloc[rows[0]][id_column] if rows[0] < len(frame) else None
        st.session_state[f"{key}_pick"], st.session_state[f"{key}_pick_rows"] = choice, rows
    left = bool(rows) and choice not in set(frame[id_column])
    if left or (require_pick and not rows):
        if not rows:        # an untick ends the tick: ticking the same row number again picks afresh
            st.session_state.pop(f"{key}_pick_rows", None)
        st.text("Tick a row to resolve it" + (" (the ticked row has left the table)" if left else ""))
        return None
    if choice not in set(frame[id_column]):
        choice = frame.iloc[0][id_column]
        st.text("Showing the first row (nothing is ticked): tick a row in the table to select another.")
    else:
        st.text(f"Showing the ticked row: {choice}")
    return frame[frame[id_column] == choice].iloc[0].to_dict()


READS_COLUMN = "encoder reads it"
READS_SHOWN = {True: "yes", False: "no (mostly [UNK])"}     # anything else: not checked (older run, other encoder)
HIDDEN_NOTE = ("{n} turn(s) the encoder cannot read (mostly [UNK]) are hidden: their suggestions are unreliable; "
               "concord serve --encoder multilingual reads them")


def without_unreadable(rows: pd.DataFrame, *, show: bool) -> tuple[pd.DataFrame, int]:
    """``rows`` (with the run's ``encoder_reads`` per turn) with an ``encoder reads it`` column, less the turns
    the encoder could not read unless ``show``; and how many turns that left out (entity rows are spans)."""
    reads = rows["encoder_reads"] if "encoder_reads" in rows else pd.Series([None] * len(rows), index=rows.index)
    unreadable = reads.map(lambda v: v is not None and not pd.isna(v) and not v).astype(bool)   # False, not None
    rows = rows.assign(**{READS_COLUMN: reads.map(lambda v: READS_SHOWN.get(v, "not checked"))})
    if show or not unreadable.any():
        return rows, 0
    return rows[~unreadable].reset_index(drop=True), rows.loc[unreadable, "turn_id"].nunique()


def readable_rows(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """``without_unreadable``: the turns the encoder could not read (mostly [UNK] to the packaged English
    MiniLM, e.g. Chinese) are left out, with a line saying how many and why, unless the analyst ticks the
    checkbox to show them: a blind encoder's "confident disagreement" there is no evidence of a label
    error, so no page offers it as a fix."""
    shown, hidden = without_unreadable(rows, show=False)
    if not hidden:
        return shown
    if st.checkbox("Show the turns the encoder cannot read", key=f"{key}_unreadable"):
        return without_unreadable(rows, show=True)[0]
    st.text(HIDDEN_NOTE.format(n=hidden))
    return shown


FIXED_COLUMN = "fixed"


def fixed_rows(rows: pd.DataFrame, fixed_ids: set, key: str, *, since: str, id_column: str = "turn_id") -> pd.DataFrame:
    """A to-do list that shrinks as the analyst works: rows whose ``id_column`` (a turn, or one span row of a
    turn) was fixed (``fixed_ids``: decided after the labels the list was computed from were read, ``since``
    names when) are left out, with a line saying how many, unless the checkbox shows them, then with a
    ``fixed`` column. Without this a relabelled or confirmed turn stayed on top of Label errors until the
    next run, looking unfixed."""
    fixed = rows[id_column].isin(fixed_ids) if not rows.empty else pd.Series([], dtype=bool)
    if not fixed.any():
        return rows
    n = rows.loc[fixed, id_column].nunique()
    if st.checkbox("Show the rows fixed since this list was made", key=f"{key}_show_fixed"):
        st.text(f"{n} fixed since {since} (relabelled or confirmed after it): ticked in the '{FIXED_COLUMN}' column")
        return rows.assign(**{FIXED_COLUMN: fixed.to_numpy(dtype=bool)})
    st.text(f"{n} fixed since {since} (relabelled or confirmed after it): hidden from the list")
    return rows[~fixed.to_numpy(dtype=bool)].reset_index(drop=True)


def show_context(db, turn_id: str) -> None:
    """The earlier turns of the conversation (speaker and text, as a table: user text), oldest first: a turn
    or response that looks wrong alone can fit what was said before (Misalignment and the adjudication panel)."""
    earlier = analysis.turn_context(db, turn_id)
    if not earlier:
        st.text("Conversation before this turn: none (it opens the conversation)")
        return
    st.text(f"Conversation before this turn: {len(earlier)} earlier turn(s), oldest first")
    st.dataframe(earlier, hide_index=True, width="stretch", placeholder="",
                 column_config={"speaker": st.column_config.TextColumn("speaker", width="small"),
                                "text": st.column_config.TextColumn("text", width="large")})


def show_turn(row: dict) -> None:
    """The turn's text and response as plain text. Not ``st.code``: a code block makes the browser fetch and
    evaluate Streamlit's 1.5 MB syntax-highlighter bundle, about 0.25 s of the health page's first paint
    (it opens with a cell's turn shown), to display text that needs no highlighting."""
    st.text("Turn")
    st.text(row.get("text") or "")
    if row.get("response"):
        st.text("Response")
        st.text(row["response"])


def evidence_panel(db, project: str, turn_id: str, *, run_id: str | None) -> None:
    """The nearest labelled turns by embedding, with their labels: why the model suggests what it does."""
    st.text("Evidence: the nearest labelled turns")
    near = evidence.nearest_labelled(db, project, turn_id, k=5, run_id=run_id)
    if near is None:
        st.info("This run published no embeddings, so there are no neighbours to show yet "
                "(they appear after the worker's next run).")
    elif near.empty:
        st.text("No labelled neighbours.")
    else:
        st.dataframe(near, hide_index=True, width="stretch")
