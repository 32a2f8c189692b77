"""What a model (or an import) suggests for a turn: which parts pre-fill the form, and the banner.

Split from ``label_form`` (which re-exports the names the page and tests use): the rules deciding
which suggested intents and spans are confident enough to pre-fill and to be taken by accept (A),
and the escaped banner that shows them with their confidences. Pre-filled labels are kept unless
the annotator notices them, so the thresholds are about how often a pre-fill is wrong.
"""
from __future__ import annotations

import html
import math

from store.records import spans_overlap
from workbench.components import shortcuts

# The top intent is pre-filled (and taken by "accept") from SUGGESTED_INTENT_MIN_PROB, a further one only
# from ADDITIONAL_INTENT_MIN_PROB: with every intent >= 0.5 pre-filled, 14 of 25 turns got 2+ where 6% of
# gold turns have them. A rare second intent needs strong evidence (on calibrated heads, about 1 in 5
# pre-filled extras wrong at worst). The banner bolds those and lists others from CANDIDATE_FLOOR up.
SUGGESTED_INTENT_MIN_PROB = 0.5
ADDITIONAL_INTENT_MIN_PROB = 0.8
CANDIDATE_FLOOR = 0.05
# Spans get the same floor as intents: a pre-filled span is kept unless the annotator notices it, and
# the model's weak spans ("the" as a product, "Honestly" as a booking reference) ended up in exports.
# Weaker spans are only listed in the banner ("also: ..."); spans without a score (imports) all count.
SUGGESTED_SPAN_MIN_SCORE = 0.5


def suggested_intents(suggestion: dict | None) -> list[str]:
    """The suggested intents confident enough to pre-fill: the most probable one from
    ``SUGGESTED_INTENT_MIN_PROB``, others from ``ADDITIONAL_INTENT_MIN_PROB``; intents without a
    probability (imports: someone's labels) all of them."""
    probs = (suggestion or {}).get("intent_probs") or {}
    intents = (suggestion or {}).get("intents") or []
    top = max((i for i in intents if probs.get(i) is not None), key=probs.get, default=None)
    return [i for i in intents if probs.get(i) is None or probs[i] >= ADDITIONAL_INTENT_MIN_PROB
            or (i == top and probs[i] >= SUGGESTED_INTENT_MIN_PROB)]


def is_confident_span(span: dict) -> bool:
    score = span.get("score")
    return score is None or score >= SUGGESTED_SPAN_MIN_SCORE


def suggested_spans(suggestion: dict | None) -> list[dict]:
    """The suggested spans confident enough to pre-fill, show dotted and accept."""
    return [s for s in (suggestion or {}).get("entities") or [] if is_confident_span(s)]


def weak_spans(suggestion: dict | None) -> list[dict]:
    """The suggested spans below ``SUGGESTED_SPAN_MIN_SCORE``: listed in the banner only."""
    return [s for s in (suggestion or {}).get("entities") or [] if not is_confident_span(s)]


def without_overlaps(spans: list[dict], keep: list[dict] = ()) -> list[dict]:
    """``spans`` minus those overlapping ``keep`` or an earlier (longer first) one: one label per character."""
    kept, added = list(keep), []
    for span in sorted(spans, key=lambda s: (s["start"] - s["end"], s["start"])):
        if not any(spans_overlap(span, other) for other in kept):
            kept.append(span)
            added.append(span)
    return sorted(added, key=lambda s: (s["start"], s["end"]))


def suggested_values(suggestion: dict) -> dict:
    """What "accept all" takes from a suggestion: confident intents, confident spans (no scores, no
    overlaps), sentiment, alignment."""
    return {
        "intents": suggested_intents(suggestion),
        "entities": without_overlaps([{"start": s["start"], "end": s["end"], "label": s["label"]}
                                      for s in suggested_spans(suggestion)]),
        "sentiment": suggestion.get("sentiment"),
        "aligned": suggestion.get("aligned"),
    }


def percent(prob: float) -> str:
    """A suggestion's probability as a whole percent, never "100%" or "0%" for one strictly between:
    0.996 shown as 100% read as certainty the model does not have. Rounded down, so a shown figure
    never passes a threshold the value does not (0.795 is 79%, not the 80% a second intent needs)."""
    shown = math.floor(prob * 100 + 1e-9)
    if 0 < prob < 1:
        shown = min(max(shown, 1), 99)
    return f"{shown}%"


def suggestion_intents_html(suggestion: dict) -> str:
    """The intents part of the banner: the ones pre-filled (and taken by accept) in bold, then other
    candidates from ``CANDIDATE_FLOOR`` up, or a note that none is confident enough to pre-fill."""
    probs = suggestion.get("intent_probs") or {}
    chosen = suggested_intents(suggestion)
    pct = lambda name: "" if probs.get(name) is None else f" {percent(probs[name])}"
    parts = [f"<b>{html.escape(name)}</b>{pct(name)}" for name in chosen]
    if not chosen:
        parts.append("<i>no intent confident enough to pre-fill</i>")
    others = sorted(((n, p) for n, p in probs.items() if n not in chosen and p >= CANDIDATE_FLOOR),
                    key=lambda kv: -kv[1])[:4]
    if others:
        parts.append("<span style='opacity:.75'>also " + ", ".join(
            f"{html.escape(n)} {percent(p)}" for n, p in others) + "</span>")
    return " · ".join(parts)


def weak_spans_html(suggestion: dict, text: str) -> str:
    """The spans too weak to pre-fill, as ``also: product "the" 31%`` (escaped: text and labels are data)."""
    chars = text or ""
    parts = [f"{html.escape(str(s['label']))} &quot;{html.escape(chars[s['start']:s['end']])}&quot; {percent(s['score'])}"
             for s in sorted(weak_spans(suggestion), key=lambda s: -s["score"])[:4]]
    return "<span style='opacity:.75'>also: " + ", ".join(parts) + "</span>" if parts else ""


def suggestion_html(suggestion: dict | None, text: str = "") -> str:
    """The model's suggestion with confidences, escaped (names come from data and models). Bold is
    exactly what pre-filling and <kbd>A</kbd> take; weak spans (of ``text``) are listed, not dotted."""
    if not suggestion:
        return ""
    parts = [suggestion_intents_html(suggestion)]
    if suggestion.get("sentiment"):
        conf = (suggestion.get("sentiment_probs") or {}).get(suggestion["sentiment"])
        parts.append(f"sentiment <b>{html.escape(str(suggestion['sentiment']))}</b>"
                     + ("" if conf is None else f" {percent(conf)}"))
    if suggestion.get("aligned") is not None:
        parts.append("response <b>" + ("aligned" if suggestion["aligned"] else "misaligned") + "</b>")
    n_spans = len(suggested_spans(suggestion))
    if n_spans:
        parts.append(f"{n_spans} span(s) (dotted)")
    if weak_spans(suggestion):
        parts.append(weak_spans_html(suggestion, text))
    source = html.escape(str(suggestion.get("source") or "model"))
    return (
        "<div style='font-size:.85rem;padding:.35rem .6rem;border-radius:.4rem;background:#fefce8;"
        "border:1px solid #fde68a'><b>Suggestion</b> from " + source + ": " + " · ".join(parts)
        + f" <span style='opacity:.7'>— press <kbd>{shortcuts.ACCEPT}</kbd> to accept the bold ones and dotted spans</span></div>"
    )
