"""A submit must carry a sentiment (when the schema has sentiments) and, when the turn shows an
assistant response, its fit: Chinese turns get no suggestion, so nothing was pre-filled, and rows went
out with ``sentiment: null, aligned: null`` because only an intent was asked for."""
from __future__ import annotations

import pytest

from app_testkit import TURNS, make_template, open_copy, signed_in, texts
from store import annotations
from workbench import runtime
from workbench.components import label_form
from workbench.views import label as label_page

SCHEMA = {"intents": ["refund"], "entities": [], "sentiments": ["negative", "neutral", "positive"]}
WITH_RESPONSE = {"turn_id": "t", "text": "退款", "response": "好的，已为您处理。"}


def test_a_sentiment_is_required_when_the_schema_has_sentiments():
    found = label_form.problems({"intents": ["refund"], "sentiment": None, "aligned": None}, SCHEMA)
    assert found == ["Pick a sentiment (Q/W/E), or skip the turn with S."]
    assert not label_form.problems({"intents": ["refund"], "sentiment": "neutral"}, SCHEMA)
    # a sentiment the schema no longer has is no sentiment
    assert label_form.problems({"intents": ["refund"], "sentiment": "angry"}, SCHEMA) == found


def test_a_schema_without_sentiments_asks_for_none():
    schema = {**SCHEMA, "sentiments": []}
    assert not label_form.problems({"intents": ["refund"], "sentiment": None}, schema)


def test_the_fit_is_required_when_the_turn_shows_a_response():
    values = {"intents": ["refund"], "sentiment": "neutral", "aligned": None}
    assert label_form.problems(values, SCHEMA, turn=WITH_RESPONSE) == [
        "Pick the response fit (G aligned, M misaligned), or skip the turn with S."]
    assert not label_form.problems({**values, "aligned": False}, SCHEMA, turn=WITH_RESPONSE)
    for no_response in (None, "", "  \n"):
        assert not label_form.problems(values, SCHEMA, turn={**WITH_RESPONSE, "response": no_response})


def test_every_missing_choice_is_named_at_once():
    found = label_form.problems({"intents": [], "sentiment": None, "aligned": None}, SCHEMA, turn=WITH_RESPONSE)
    assert found == ["Pick at least one intent (digits, or / to search), a sentiment (Q/W/E) and the "
                     "response fit (G aligned, M misaligned), or skip the turn with S."]


@pytest.fixture
def chinese_only(tmp_path, monkeypatch):
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-zh"], users=("ann",))
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def test_a_turn_with_nothing_prefilled_is_not_stored_without_a_sentiment(chinese_only):
    at = signed_in("ann")
    form = at.session_state[label_page.FORM_KEY]
    assert form.turn_id == "t-zh" and form.sentiment is None          # no suggestion, nothing pre-filled
    at.multiselect(key=form.key("intents")).set_value(["return_item"])
    at.segmented_control(key=form.key("aligned")).set_value(True)
    at.button(key=form.key("submit")).click()
    at.run()
    assert "Pick a sentiment (Q/W/E), or skip the turn with S." in texts(at)
    assert at.session_state[label_page.FORM_KEY].form_id == form.form_id          # the turn stays open
    assert annotations.turn_state(chinese_only, "t-zh", annotator="ann") is None
    at.segmented_control(key=form.key("sentiment")).set_value("neutral")
    at.button(key=form.key("submit")).click()
    at.run()
    state = annotations.turn_state(chinese_only, "t-zh", annotator="ann")
    assert state["sentiment"] == "neutral" and state["aligned"] is True
