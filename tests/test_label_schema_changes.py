"""A suggestion from before a rename or merge is read in today's label names, and retired names drop out.

Renames and merges (``labels.rename_label``/``merge_labels``) are applied when labels are read; the
model's predictions were not, so until the next retrain the label page pre-filled retired names: the
form held an intent its box could not show (so it could not be removed), Enter and A were refused
("Unknown intent(s) ... the schema changed"), the span chip read the old entity type and the banner
listed the old intent. The test runs a model whose prediction predates a merge and two renames.
"""
from __future__ import annotations

import html

import pytest

from app_testkit import TURNS, add_model_suggestion, make_template, open_copy, signed_in, texts
from store import annotations, labels, turns
from workbench import runtime
from workbench.views import label as label_page

TEXT = "where is order A123 please"                        # the t-en turn
SPAN = {"start": 15, "end": 19}                              # "A123"
PROBS = {"track_order": 0.95, "return_item": 0.85, "cancel_order": 0.07, "legacy_intent": 0.3}


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    assert next(t for t in TURNS if t["id"] == "t-en")["text"] == TEXT
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-en"], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    add_model_suggestion(db, "t-en", intents=["track_order", "return_item"], probs=PROBS,
                         entities=[{**SPAN, "label": "order_id"}], entity_scores=[0.9])
    db.write(lambda con: con.execute("UPDATE predictions SET sentiment = 'negative', sentiment_probs = ?",
                                     ['{"negative": 0.8, "neutral": 0.15, "positive": 0.05}']))
    labels.merge_labels(db, "default", "intent", ["return_item"], "cancel_order", by="boss")
    labels.rename_label(db, "default", "entity", "order_id", "order_number", by="boss")
    labels.rename_label(db, "default", "sentiment", "negative", "unhappy", by="boss")
    yield db
    runtime.close_stores()


def _banner(at) -> str:
    return next(html.unescape(e.proto.body) for e in at.get("html") if "<b>Suggestion</b>" in e.proto.body)


def test_the_label_page_prefills_todays_names_and_submits_them(app_db):
    at = signed_in("ann")
    form = at.session_state[label_page.FORM_KEY]
    assert form.intents == ["track_order", "cancel_order"]               # return_item reads as cancel_order
    assert at.multiselect(key=form.key("intents")).value == form.intents  # so the box shows (and removes) it
    assert form.spans == [{**SPAN, "label": "order_number"}]
    assert [s["label"] for s in form.suggestion["entities"]] == ["order_number"]   # the dotted chip
    assert form.sentiment == "unhappy"
    banner = _banner(at)
    assert "<b>cancel_order</b> 85%" in banner                           # the merge keeps the max, not 92%
    assert "sentiment <b>unhappy</b> 80%" in banner
    for retired in ("return_item", "legacy_intent", "order_id", "negative"):
        assert retired not in banner
    at.button(key=form.key("accept")).click()
    at.run()
    at.segmented_control(key=at.session_state[label_page.FORM_KEY].key("aligned")).set_value(True)  # required
    at.button(key=at.session_state[label_page.FORM_KEY].key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    assert "Unknown intent" not in texts(at)
    stored = annotations.turn_state(app_db, "t-en", annotator="ann")
    assert stored["intents"] == ["track_order", "cancel_order"]
    assert stored["entities"] == [{**SPAN, "label": "order_number"}] and stored["sentiment"] == "unhappy"


def test_a_merge_keeps_the_larger_probability_and_drops_names_gone_from_the_schema(app_db):
    suggestion = turns.get_turn(app_db, "t-en")["suggestion"]
    assert suggestion["intent_probs"] == {"track_order": 0.95, "cancel_order": 0.85}
    assert suggestion["sentiment_probs"] == {"unhappy": 0.8, "neutral": 0.15, "positive": 0.05}
    two_weak = {"intents": [], "intent_probs": {"a": 0.3, "b": 0.3}, "entities": [], "sentiment": None}
    schema = {"intents": ["c"], "entities": [], "sentiments": ["neutral"]}
    renames = {"intent": {"a": "c", "b": "c"}, "entity": {}, "sentiment": {}}
    assert turns.in_todays_names(two_weak, renames, schema)["intent_probs"] == {"c": 0.3}   # not lifted to 0.6
    no_schema = {"intents": [], "entities": [], "sentiments": ["neutral"]}   # a project imported without one
    kept = turns.in_todays_names({**two_weak, "intents": ["a"]}, renames, no_schema)
    assert kept["intents"] == ["c"] and kept["intent_probs"] == {"c": 0.3}
