"""The Agreement page as a reviewer reads it: the queue says which fields disagree and what each
annotator answered (they only showed after ticking a row), missing values are empty cells (not
"None"), a pair that marked no spans agrees (its span F1 read "-"), a refusal gives the reason that
fits (a turn nobody labelled has no disagreement), a resolution without intents is refused, and a
flash message sits inside its box (it printed below an empty "Note:" box)."""
from __future__ import annotations

import html
import re

from store import analysis, annotations
import test_analysis_pages
from test_analysis_pages import page_as, tick_queue_row

app_db = test_analysis_pages.app_db     # the pages' seeded fixture, shared


def queue_of(at):
    return next(d for d in at.dataframe if {"turn_id", "reason"} <= set(d.value.columns))


def notices(at) -> list[str]:
    """The messages of the page's escaped notice boxes, as the reader sees them."""
    return [html.unescape(re.sub(r"<[^>]+>", "", e.proto.body)) for e in at.get("html")]


def gold(db, turn_id: str) -> list[dict]:
    return [h for h in annotations.history(db, turn_id) if h["action"] == "adjudicate"]


def test_the_queue_names_the_disagreeing_fields_and_the_answers(app_db):
    annotations.submit(app_db, annotation_id="e1", turn_id="t-en", project="default", annotator="ann",
                       intents=["track_order"], sentiment="neutral", aligned=True)
    annotations.submit(app_db, annotation_id="e2", turn_id="t-en", project="default", annotator="ana",
                       intents=["track_order"], sentiment="negative", aligned=False,
                       entities=[{"start": 15, "end": 19, "label": "order_id"}])
    annotations.flag(app_db, annotation_id="f1", turn_id="t-emoji", project="default", annotator="ann")
    at = page_as("agreement", "ana")
    assert not at.exception, at.exception
    queue = queue_of(at)
    rows = queue.value.set_index("turn_id")
    assert list(queue.value.columns)[:4] == ["turn_id", "reason", "disagree_on", "answers"]
    assert rows.loc["x1", "disagree_on"] == "intent"
    assert rows.loc["x1", "answers"] == "intent ana: greeting | ann: return_item"
    assert rows.loc["t-en", "disagree_on"] == "sentiment, spans, fit"
    assert rows.loc["t-en", "answers"] == ("sentiment ana: negative | ann: neutral; spans ana: order_id[15:19] | "
                                           "ann: no spans; fit ana: misaligned | ann: aligned")
    assert rows.loc["t-emoji", "answers"] == "no annotator yet"
    assert queue.proto.HasField("placeholder") and queue.proto.placeholder == ""        # note: empty, not None
    stats = next(d for d in at.dataframe if "agree_model" in d.value.columns)
    assert stats.proto.HasField("placeholder") and stats.proto.placeholder == ""


def test_a_pair_that_marked_no_spans_agrees_fully(app_db):
    at = page_as("agreement", "ana")                # ann and ana marked no span on their six shared turns
    assert next(m for m in at.metric if m.label == "Entity span F1").value == "1.000"
    pairs = next(d for d in at.dataframe if "f1" in d.value.columns)
    assert pairs.value["f1"].tolist() == [1.0]


def test_a_turn_nobody_labelled_is_refused_for_what_is_missing_not_for_a_disagreement(app_db):
    annotations.flag(app_db, annotation_id="f1", turn_id="t-emoji", project="default", annotator="ann")
    at = tick_queue_row(page_as("agreement", "ana"), "t-emoji")
    at.button(key="adj_t-emoji_resolve").click().run()
    assert notices(at) == ["t-emoji not resolved: choose the resolved intents: no annotator has labelled this "
                           "turn, and a resolution without intents would make an empty intent label the turn's "
                           "gold label"]
    at.multiselect(key="adj_t-emoji_intents").set_value(["track_order"])
    at.button(key="adj_t-emoji_resolve").click().run()
    assert notices(at) == ["t-emoji not resolved: choose the resolved sentiment (or (no sentiment)): no annotator "
                           "has labelled this turn, so none was pre-selected"]
    assert not gold(app_db, "t-emoji")


def test_a_resolution_without_intents_is_refused(app_db):
    """Both annotators gave no intent (they split on sentiment): Resolve used to store an empty gold intent."""
    for n, (who, feeling) in enumerate((("ann", "neutral"), ("ana", "negative"))):
        annotations.submit(app_db, annotation_id=f"e{n}", turn_id="t-en", project="default", annotator=who,
                           sentiment=feeling)
    at = tick_queue_row(page_as("agreement", "ana"), "t-en")
    at.selectbox(key="adj_t-en_sentiment").set_value("neutral")
    at.button(key="adj_t-en_resolve").click().run()
    assert not at.exception, at.exception
    assert notices(at) == ["t-en not resolved: choose the resolved intents: a resolution without intents would "
                           "make an empty intent label the turn's gold label"]
    assert not gold(app_db, "t-en")


def test_a_flash_message_is_inside_its_box(app_db):
    at = tick_queue_row(page_as("agreement", "ana"), "x1")
    at.selectbox(key="adj_x1_adopt").set_value("ann")
    at.button(key="adj_x1_adopt_use").click().run()
    assert not at.exception, at.exception
    assert notices(at) == ["The form holds ann's labels now: check them, then press Resolve."]
    assert any("data-kind='info'" in e.proto.body for e in at.get("html"))
    assert not [e.value for e in at.info if e.value == "Note:"]
    assert "The form holds ann's labels now" not in "\n".join(t.value for t in at.text)   # not below the box
    assert analysis.adjudication_queue(app_db, "default")["turn_id"].tolist().count("x1") == 1
