"""Agreement: how consistently annotators label overlapping turns (Krippendorff's alpha, pairwise Cohen's
kappa, span F1), per-annotator statistics, and the adjudication queue where a reviewer's resolution
becomes the gold label (the annotators' labels stay in the history)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from store import analysis, annotations, labels
from workbench.components import analysis as ui


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def render_summary(db, project: str) -> None:
    summary = analysis.agreement_summary(db, project)
    a, b, c, d = st.columns(4)
    a.metric("Overlap turns", summary["n_turns"])
    b.metric("Intent alpha", _fmt(summary["intent"]["alpha"]))
    c.metric("Sentiment alpha", _fmt(summary["sentiment"]["alpha"]))
    d.metric("Entity span F1", _fmt(summary["entity"]["mean_f1"]))
    if not summary["n_turns"]:
        st.caption("No turn has two annotators yet. Set the project's overlap above 1 to measure agreement.")
        return
    left, right = st.columns(2)
    left.text("Cohen's kappa per pair (intents)")
    left.dataframe(pd.DataFrame(summary["intent"]["pairs"]), hide_index=True, width="stretch")
    right.text("Span F1 per pair (entities)")
    right.dataframe(pd.DataFrame(summary["entity"]["pairs"]), hide_index=True, width="stretch")


def majority_spans(votes: list[dict]) -> list[dict]:
    """Spans more than half of the annotators marked (the default resolution for entities)."""
    counts: dict[tuple, int] = {}
    for vote in votes:
        for s in {(int(s["start"]), int(s["end"]), s["label"]) for s in vote["entities"]}:
            counts[s] = counts.get(s, 0) + 1
    return [{"start": a, "end": b, "label": c} for (a, b, c), n in sorted(counts.items()) if 2 * n > len(votes)]


def majority_aligned(votes: list[dict]) -> bool | None:
    """The annotators' response fit: True when most of those who judged it said aligned, False otherwise
    (a tie too: it keeps a doubtful response out of the aligned training data until the reviewer says so),
    None only when nobody judged it."""
    judged = [bool(v["aligned"]) for v in votes if v.get("aligned") is not None]
    if not judged:
        return None
    return 2 * sum(judged) > len(judged)


def common_correction(votes: list[dict]) -> str:
    """The corrected response most annotators wrote (ties: the first annotator's), or "" when none wrote one."""
    given = [v["corrected_response"].strip() for v in votes if (v.get("corrected_response") or "").strip()]
    return max(given, key=given.count) if given else ""


def span_text(text: str, span: dict) -> str:
    """A span as a reviewer reads it: 'amount "12.50" [12:17]' (offsets in code points, end exclusive)."""
    start, end = int(span["start"]), int(span["end"])
    return f'{span["label"]} "{text[start:end]}" [{start}:{end}]'


def votes_table(votes: list[dict], text: str) -> pd.DataFrame:
    """The annotators' labels, readable: spans with their text, response fit as True/False/blank (a
    checkbox column cannot show "not judged")."""
    rows = [{"annotator": v["annotator"], "intents": ", ".join(v["intents"]),
             "entities": "; ".join(span_text(text, s) for s in v["entities"]), "sentiment": v["sentiment"] or "",
             "aligned": "" if v.get("aligned") is None else str(bool(v["aligned"])),
             "corrected_response": v.get("corrected_response") or ""} for v in votes]
    return pd.DataFrame(rows, columns=["annotator", "intents", "entities", "sentiment", "aligned",
                                       "corrected_response"])


# Offered as words: a None option would read as "nothing picked" to Streamlit's radio.
FIT_CHOICES = {"aligned": True, "misaligned": False, "not judged": None}


def resolve(db, user, project: str, turn_id: str, key: str, entities: list[dict]) -> None:
    state = st.session_state
    intents, sentiment = state[f"{key}_intents"], state[f"{key}_sentiment"]
    aligned = FIT_CHOICES.get(state.get(f"{key}_aligned"))
    corrected = (state.get(f"{key}_corrected") or "").strip() or None
    note = state.get(f"{key}_note") or None
    annotation_id = ui._annotation_id(db, project, "adjudicate", turn_id, intents, sentiment, aligned, corrected,
                                      note, user.username)
    annotations.adjudicate(db, annotation_id=annotation_id, turn_id=turn_id, project=project, reviewer=user.username,
                           intents=intents, sentiment=sentiment, entities=entities, aligned=aligned,
                           corrected_response=corrected, note=note)
    ui.flash("success", f"{turn_id} resolved: the resolution is now its gold label.")


def render_fit(votes: list[dict], key: str) -> None:
    """Response fit and corrected response of the resolution, starting from what the annotators said."""
    default = list(FIT_CHOICES.values()).index(majority_aligned(votes))
    st.radio("Resolved response fit", list(FIT_CHOICES), index=default, key=f"{key}_aligned", horizontal=True)
    st.text_area("Corrected response (kept in the gold label; empty = none)", value=common_correction(votes),
                 key=f"{key}_corrected", height=80)


def render_resolution(db, user, project: str, row: dict) -> None:
    ui.show_turn(row)
    votes = analysis.turn_votes(db, row["turn_id"])
    st.dataframe(votes_table(votes, row.get("text") or ""), hide_index=True, width="stretch")
    schema, key = labels.get_schema(db, project), f"adj_{row['turn_id']}"
    top = pd.Series([tuple(v["intents"]) for v in votes]).mode() if votes else pd.Series(dtype=object)
    st.multiselect("Resolved intents", schema["intents"], key=f"{key}_intents",
                   default=[i for i in (top.iloc[0] if len(top) else ()) if i in schema["intents"]])
    sentiments = [v["sentiment"] for v in votes if v["sentiment"] in schema["sentiments"]]
    st.selectbox("Resolved sentiment", [None, *schema["sentiments"]], key=f"{key}_sentiment",
                 index=1 + schema["sentiments"].index(max(set(sentiments), key=sentiments.count)) if sentiments else 0)
    render_fit(votes, key)
    spans = majority_spans(votes)
    st.text(f"Entity spans kept (marked by most annotators): {len(spans)}")
    if spans:
        st.text("\n".join(span_text(row.get("text") or "", s) for s in spans))
    st.text_input("Note (why)", key=f"{key}_note")
    st.button("Resolve: make this the gold label", key=f"{key}_resolve", type="primary",
              on_click=resolve, args=(db, user, project, row["turn_id"], key, spans))


@ui.analyst_page
def render(db, user, project: str) -> None:
    """The page body; app.py checks the role (analyst/admin) on the server before calling it."""
    st.header("Agreement")
    ui.show_flash()
    render_summary(db, project)
    st.subheader("Annotators")
    st.dataframe(analysis.annotator_stats(db, project), hide_index=True, width="stretch")
    st.subheader("Adjudication queue")
    queue = analysis.adjudication_queue(db, project)
    st.text(f"{len(queue)} turn(s) to resolve (disagreements and flags)")
    row = ui.pick_turn(queue, key="adj_queue", columns=["turn_id", "reason", "text", "n_annotators", "note"])
    if row is not None:
        render_resolution(db, user, project, row)
