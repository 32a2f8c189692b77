"""Agreement: how consistently annotators label overlapping turns (Krippendorff's alpha, pairwise Cohen's
kappa, span F1), per-annotator statistics, and the adjudication queue where a reviewer's resolution
becomes the gold label (the annotators' labels stay in the history)."""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from store import analysis, annotations, labels
from store.records import describe_overlaps, overlapping_spans
from workbench.components import analysis as ui
from workbench.components import fixes


# Offered as words: a None option would read as "nothing picked" to Streamlit's radio.
FIT_CHOICES = {"aligned": True, "misaligned": False, "not judged": None}
FIT_WORDS = {value: word for word, value in FIT_CHOICES.items()}
# The sentiment option "no sentiment" (a reviewer's choice); an unchosen box (a tie) has the value None.
NO_SENTIMENT = "(no sentiment)"
NO_MAJORITY = object()


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


# Below this many items an agreement coefficient swings with a single turn (alpha -0.250 from 3 overlap
# turns, kappa 1 from one): it is shown with its n and marked, not hidden.
MIN_TRUSTED_N = 20
FEW_NOTE = f"too few to trust (n < {MIN_TRUSTED_N})"


def sample_note(n: int, what: str) -> str:
    """'n = 3 overlap turns: too few to trust (n < 20)', the line under a coefficient."""
    return f"n = {n} {what}" + (f": {FEW_NOTE}" if n < MIN_TRUSTED_N else "")


def pair_table(pairs: list[dict]):
    """Per-pair coefficients with a ``trust`` column, rows from fewer than ``MIN_TRUSTED_N`` turns greyed."""
    frame = pd.DataFrame(pairs)
    if frame.empty or "n" not in frame:
        return frame
    frame["trust"] = [FEW_NOTE if n < MIN_TRUSTED_N else "" for n in frame["n"]]
    return frame.style.apply(lambda row: ["color: #9a9a9a" if row["n"] < MIN_TRUSTED_N else ""] * len(row), axis=1)


def render_summary(db, project: str) -> None:
    """The coefficients, each with the number of items it comes from (and a mark when too few)."""
    summary = analysis.agreement_summary(db, project)
    a, b, c, d = st.columns(4)
    a.metric("Overlap turns", summary["n_turns"])
    b.metric("Intent alpha", _fmt(summary["intent"]["alpha"]))
    b.text(sample_note(summary["intent"].get("n", 0), "overlap turns with intents"))
    c.metric("Sentiment alpha", _fmt(summary["sentiment"]["alpha"]))
    c.text(sample_note(summary["sentiment"].get("n", 0), "overlap turns with sentiment"))
    pairs, mean = span_pairs_agreeing_on_none(summary["entity"]["pairs"], summary["entity"]["mean_f1"])
    d.metric("Entity span F1", _fmt(mean))
    d.text(sample_note(sum(p["n"] for p in pairs), "annotator-pair turns"))
    if not summary["n_turns"]:
        st.caption("No turn has two annotators yet. Set the project's overlap above 1 to measure agreement.")
        return
    left, right = st.columns(2)
    left.text("Cohen's kappa per pair (intents; n = turns both labelled)")
    left.dataframe(pair_table(summary["intent"]["pairs"]), hide_index=True, width="stretch")
    right.text("Span F1 per pair (entities; 1.0 where neither marked a span: they agree)")
    right.dataframe(pair_table(pairs), hide_index=True, width="stretch", placeholder="")


def span_pairs_agreeing_on_none(pairs: list[dict], mean: float | None) -> tuple[list[dict], float | None]:
    """Span F1 per pair with the undefined F1 of a pair that marked no span at all on its shared turns set
    to 1.0 (full agreement: it read "-", as if unmeasured), and the n-weighted mean over every pair."""
    filled = [{**p, "f1": 1.0 if p["f1"] is None and p["n"] else p["f1"]} for p in pairs]
    scored = [p for p in filled if p["f1"] is not None and p["n"]]
    if not scored:
        return filled, mean
    return filled, sum(p["f1"] * p["n"] for p in scored) / sum(p["n"] for p in scored)


def strict_majority(values: list):
    """The value more than half of ``values`` are, else ``NO_MAJORITY``: on a tie nothing is pre-filled, so
    the form never starts from a mix nobody gave (one annotator's intents with the other's sentiment)."""
    top = max(values, key=values.count) if values else NO_MAJORITY
    return top if values and 2 * values.count(top) > len(values) else NO_MAJORITY


def span_candidates(votes: list[dict]) -> list[dict]:
    """Every span any annotator marked, once, with who marked it; ``majority`` (pre-checked) when more than
    half of the annotators did. Disputed spans are listed too, so dropping one is the reviewer's decision."""
    marked: dict[tuple, list[str]] = {}
    for vote in votes:
        for span in sorted({(int(s["start"]), int(s["end"]), s["label"]) for s in vote["entities"]}):
            marked.setdefault(span, []).append(vote["annotator"])
    return [{"start": a, "end": b, "label": c, "annotators": who, "majority": 2 * len(who) > len(votes)}
            for (a, b, c), who in sorted(marked.items())]


def span_key(key: str, span: dict) -> str:
    """The widget key of a span's "keep" box (the label is hashed: keys stay plain whatever the schema says)."""
    digest = hashlib.sha1(str(span["label"]).encode("utf-8")).hexdigest()[:12]
    return f"{key}_span_{int(span['start'])}_{int(span['end'])}_{digest}"


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


def sentiment_choice(sentiment: str | None, schema: dict) -> str | None:
    """The sentiment box's option for an annotator's sentiment (None: not offered, e.g. a removed label)."""
    if sentiment is None:
        return NO_SENTIMENT
    return sentiment if sentiment in schema["sentiments"] else None


EMPTY_INTENTS = "a resolution without intents would make an empty intent label the turn's gold label"


def intents_missing_reason(votes: list[dict]) -> str:
    """Why no intent is pre-selected, for the refusal: the annotators split, or there is nothing to start from."""
    if not votes:
        return f"no annotator has labelled this turn, and {EMPTY_INTENTS}"
    if strict_majority([tuple(v["intents"]) for v in votes]) is NO_MAJORITY:
        return "the annotators disagree, so none was pre-selected"
    return EMPTY_INTENTS


def sentiment_missing_reason(votes: list[dict]) -> str:
    if not votes:
        return "no annotator has labelled this turn, so none was pre-selected"
    if strict_majority([v["sentiment"] for v in votes]) is NO_MAJORITY:
        return "the annotators disagree"
    return "the annotators' sentiment is not in today's schema"


def resolution_refusal(votes: list[dict], intents: list[str], sentiment: str | None, kept: list[dict]) -> str | None:
    """Why the form cannot become the gold label yet (None: it can): a field the annotators split on and
    the reviewer left empty, or kept spans that overlap (a character carries one entity label)."""
    if not intents:
        return "choose the resolved intents: " + intents_missing_reason(votes)
    if sentiment is None:
        return f"choose the resolved sentiment (or {NO_SENTIMENT}): " + sentiment_missing_reason(votes)
    pairs = overlapping_spans(kept)
    if pairs:
        return f"kept spans overlap: {describe_overlaps(pairs)}. Uncheck one of each pair."
    return None


def kept_spans(key: str, candidates: list[dict]) -> list[dict]:
    """Exactly the spans whose "keep" box is checked."""
    return [{k: s[k] for k in ("start", "end", "label")} for s in candidates
            if st.session_state.get(span_key(key, s))]


def resolve(db, user, project: str, turn_id: str, key: str, votes: list[dict], candidates: list[dict]) -> None:
    state = st.session_state
    intents, choice = list(state.get(f"{key}_intents") or []), state.get(f"{key}_sentiment")
    entities = kept_spans(key, candidates)
    refusal = resolution_refusal(votes, intents, choice, entities)
    if refusal:
        ui.flash("error", f"{turn_id} not resolved: {refusal}")
        return
    sentiment = None if choice == NO_SENTIMENT else choice
    aligned = FIT_CHOICES.get(state.get(f"{key}_aligned"))
    corrected = (state.get(f"{key}_corrected") or "").strip() or None
    note = state.get(f"{key}_note") or None
    annotation_id = fixes.make_annotation_id(db, project, "adjudicate", turn_id, intents, sentiment, entities, aligned,
                                      corrected, note, user.username)
    annotations.adjudicate(db, annotation_id=annotation_id, turn_id=turn_id, project=project, reviewer=user.username,
                           intents=intents, sentiment=sentiment, entities=entities, aligned=aligned,
                           corrected_response=corrected, note=note)
    ui.flash("success", f"{turn_id} resolved: the resolution is now its gold label.")


def adopt(key: str, votes: list[dict], candidates: list[dict], schema: dict) -> None:
    """Fill the whole form with one annotator's version (intents, sentiment, fit, correction, spans)."""
    state = st.session_state
    vote = next((v for v in votes if v["annotator"] == state.get(f"{key}_adopt")), None)
    if vote is None:
        return
    state[f"{key}_intents"] = [i for i in vote["intents"] if i in schema["intents"]]
    state[f"{key}_sentiment"] = sentiment_choice(vote["sentiment"], schema)
    state[f"{key}_aligned"] = FIT_WORDS[None if vote.get("aligned") is None else bool(vote["aligned"])]
    state[f"{key}_corrected"] = vote.get("corrected_response") or ""
    mine = {(int(s["start"]), int(s["end"]), s["label"]) for s in vote["entities"]}
    for span in candidates:
        state[span_key(key, span)] = (span["start"], span["end"], span["label"]) in mine
    ui.flash("info", f"The form holds {vote['annotator']}'s labels now: check them, then press Resolve.")


def render_fit(votes: list[dict], key: str) -> None:
    """Response fit and corrected response of the resolution, starting from what the annotators said."""
    st.session_state.setdefault(f"{key}_aligned", FIT_WORDS[majority_aligned(votes)])
    st.session_state.setdefault(f"{key}_corrected", common_correction(votes))
    st.radio("Resolved response fit", list(FIT_CHOICES), key=f"{key}_aligned", horizontal=True)
    st.text_area("Corrected response (kept in the gold label; empty = none)", key=f"{key}_corrected", height=80)


def render_labels(votes: list[dict], schema: dict, key: str) -> None:
    """Intents and sentiment, pre-filled only where a strict majority of the annotators agree."""
    top = strict_majority([tuple(v["intents"]) for v in votes])
    intents = [] if top is NO_MAJORITY else [i for i in top if i in schema["intents"]]
    st.session_state.setdefault(f"{key}_intents", intents)
    st.multiselect("Resolved intents", schema["intents"], key=f"{key}_intents", select_all=False)  # one pick per Enter
    top = strict_majority([v["sentiment"] for v in votes])
    st.session_state.setdefault(f"{key}_sentiment", None if top is NO_MAJORITY else sentiment_choice(top, schema))
    st.selectbox("Resolved sentiment", [NO_SENTIMENT, *schema["sentiments"]], key=f"{key}_sentiment",
                 placeholder="The annotators disagree: choose one")


def render_spans(text: str, votes: list[dict], candidates: list[dict], key: str) -> None:
    """One "keep" box per span any annotator marked (the span itself is shown with st.text: user text)."""
    st.text(f"Entity spans any annotator marked: {len(candidates)}. Checked spans are kept in the gold label; "
            "those most annotators marked start checked.")
    for span in candidates:
        st.session_state.setdefault(span_key(key, span), span["majority"])
        box, about = st.columns([1, 9], vertical_alignment="center")
        box.checkbox("keep", key=span_key(key, span))
        about.text(f"{span_text(text, span)}  marked by {', '.join(span['annotators'])} "
                   f"({len(span['annotators'])} of {len(votes)})")
    pairs = overlapping_spans(kept_spans(key, candidates))
    if pairs:
        st.warning("Some kept spans overlap: Resolve refuses until one of each pair is unchecked.")


def render_adopt(votes: list[dict], candidates: list[dict], schema: dict, key: str) -> None:
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.selectbox("Annotator whose labels to use", [v["annotator"] for v in votes], key=f"{key}_adopt")
    right.button("Use this annotator's labels", key=f"{key}_adopt_use", on_click=adopt,
                 args=(key, votes, candidates, schema))


def render_resolution(db, user, project: str, row: dict) -> None:
    ui.show_context(db, row["turn_id"])      # as on the Misalignment page: a turn can read differently in context
    ui.show_turn(row)
    votes, text = analysis.turn_votes(db, row["turn_id"]), row.get("text") or ""
    st.dataframe(votes_table(votes, text), hide_index=True, width="stretch")
    schema, key, candidates = labels.get_schema(db, project), f"adj_{row['turn_id']}", span_candidates(votes)
    if votes:
        render_adopt(votes, candidates, schema, key)
    render_labels(votes, schema, key)
    render_fit(votes, key)
    render_spans(text, votes, candidates, key)
    st.text_input("Note (why)", key=f"{key}_note")
    st.button("Resolve: make this the gold label", key=f"{key}_resolve", type="primary",
              on_click=resolve, args=(db, user, project, row["turn_id"], key, votes, candidates))


def _spans_short(entities: list[dict]) -> str:
    return ", ".join(f"{s['label']}[{int(s['start'])}:{int(s['end'])}]" for s in entities) or "no spans"


# field -> (what the queue calls it, an annotator's answer as a few words)
QUEUE_FIELDS = {
    "intent": ("intent", lambda v: ", ".join(v["intents"]) or "no intent"),
    "sentiment": ("sentiment", lambda v: v["sentiment"] or "no sentiment"),
    "spans": ("spans", lambda v: _spans_short(v["entities"])),
    "fit": ("fit", lambda v: FIT_WORDS[None if v.get("aligned") is None else bool(v["aligned"])]),
    "correction": ("correction", lambda v: (v.get("corrected_response") or "").strip() or "no correction"),
}


def disagreeing_fields(votes: list[dict]) -> list[str]:
    """The fields on which the annotators' answers differ (the queue's own rule: any two differ; for the
    corrected response, two different rewrites: one rewrite beside none is told apart by the fit field)."""
    def differ(name: str, answer) -> bool:
        answers = {answer(v) for v in votes} - ({"no correction"} if name == "correction" else set())
        return len(answers) > 1
    return [name for name, (_, answer) in QUEUE_FIELDS.items() if differ(name, answer)]


def answers_summary(votes: list[dict], fields: list[str]) -> str:
    """'intent ann: refund | bob: complaint; sentiment ...' for the disagreeing fields (the intents when
    none, e.g. a flagged turn), so the queue shows the dispute without ticking the row."""
    parts = []
    for name in fields or ["intent"]:
        label, answer = QUEUE_FIELDS[name]
        parts.append(f"{label} " + " | ".join(f"{v['annotator']}: {answer(v)}" for v in votes))
    return "; ".join(parts) if votes else "no annotator yet"


def queue_table(db, project: str, queue: pd.DataFrame) -> pd.DataFrame:
    """The adjudication queue with ``disagree_on`` and ``answers`` columns."""
    votes = analysis.queue_votes(db, project, queue["turn_id"].tolist()) if not queue.empty else {}
    fields = [disagreeing_fields(votes.get(t, [])) for t in queue["turn_id"]]
    return queue.assign(disagree_on=[", ".join(f) for f in fields],
                        answers=[answers_summary(votes.get(t, []), f) for t, f in zip(queue["turn_id"], fields)])


QUEUE_COLUMNS = ["turn_id", "reason", "disagree_on", "answers", "text", "n_annotators", "note"]
QUEUE_CONFIG = {
    "turn_id": st.column_config.TextColumn("turn_id", width="small"),
    "reason": st.column_config.TextColumn("reason", width="small"),
    "disagree_on": st.column_config.TextColumn("disagree_on", width="small"),
    "answers": st.column_config.TextColumn("answers", width="large"),
    "text": st.column_config.TextColumn("text", width="medium"),
    "n_annotators": st.column_config.NumberColumn("n_annotators", width="small"),
    "note": st.column_config.TextColumn("note", width="small"),
}


@ui.analyst_page
def render(db, user, project: str) -> None:
    """The page body; app.py checks the role (analyst/admin) on the server before calling it."""
    st.header("Agreement")
    ui.show_flash()
    render_summary(db, project)
    st.subheader("Annotators")
    st.dataframe(analysis.annotator_stats(db, project), hide_index=True, width="stretch", placeholder="")
    st.subheader("Adjudication queue")
    queue = queue_table(db, project, analysis.adjudication_queue(db, project))
    st.text(f"{len(queue)} turn(s) to resolve (disagreements and flags)")
    row = ui.pick_turn(queue, key="adj_queue", columns=QUEUE_COLUMNS, column_config=QUEUE_CONFIG,
                       require_pick=True)
    if row is not None:
        render_resolution(db, user, project, row)
