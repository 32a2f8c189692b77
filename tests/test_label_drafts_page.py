"""The label page keeps an annotator's unsaved choices across a reload, and asks for the response fit.

A reload is a new Streamlit session: the form's values lived only in the old one, so an annotator who
had picked an intent and a sentiment found the turn blank again. The page now loads the draft
(store.drafts) when it opens the turn, and deletes it on submit. A submit of a turn that shows an
assistant response also needs its fit (label_form.problems with the turn), or the row is exported
with ``aligned: null``.
"""
from __future__ import annotations

import pytest

from app_testkit import TURNS, make_template, open_copy, signed_in, texts
from store import annotations, drafts
from workbench import runtime
from workbench.views import label as label_page

FIT_MESSAGE = "Pick the response fit (G aligned, M misaligned), or skip the turn with S."


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    """Two plain turns with an assistant response and no suggestion, so nothing is pre-filled."""
    wanted = ("t-en", "t-zh")
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] in wanted], users=("ann",))
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def open_form(at):
    assert not at.exception, at.exception
    assert label_page.FORM_KEY in at.session_state, "no turn is shown"
    return at.session_state[label_page.FORM_KEY]


def choose(at, *, intents, sentiment):
    form = open_form(at)
    at.multiselect(key=form.key("intents")).set_value(intents)
    at.run()
    at.segmented_control(key=form.key("sentiment")).set_value(sentiment)
    at.run()
    return open_form(at)


def test_a_reload_shows_the_unsaved_choices_and_a_submit_deletes_the_draft(app_db):
    first = signed_in("ann")
    form = choose(first, intents=["return_item"], sentiment="negative")
    assert "draft restored" not in texts(first)
    key = dict(project="default", turn_id=form.turn_id, annotator="ann")
    assert drafts.load_draft(app_db, **key)["intents"] == ["return_item"]

    reloaded = signed_in("ann")                        # a new session for the same annotator
    again = open_form(reloaded)
    assert again.turn_id == form.turn_id               # their lease brings the same turn back
    assert reloaded.multiselect(key=again.key("intents")).value == ["return_item"]
    assert reloaded.segmented_control(key=again.key("sentiment")).value == "negative"
    assert "draft restored" in texts(reloaded)

    reloaded.segmented_control(key=again.key("aligned")).set_value(True)
    reloaded.run()
    reloaded.button(key=open_form(reloaded).key("submit")).click()
    reloaded.run()
    assert "Saved." in texts(reloaded)
    assert annotations.turn_state(app_db, form.turn_id, annotator="ann")["intents"] == ["return_item"]
    assert open_form(reloaded).turn_id != form.turn_id
    assert app_db.query_one("SELECT count(*) FROM drafts WHERE turn_id = ?", [form.turn_id])[0] == 0


def test_a_skip_deletes_the_draft(app_db):
    at = signed_in("ann")
    form = choose(at, intents=["greeting"], sentiment="neutral")
    assert app_db.query_one("SELECT count(*) FROM drafts WHERE turn_id = ?", [form.turn_id])[0] == 1
    at.button(key=form.key("skip")).click()
    at.run()
    assert open_form(at).turn_id != form.turn_id
    assert app_db.query_one("SELECT count(*) FROM drafts WHERE turn_id = ?", [form.turn_id])[0] == 0


def test_a_turn_with_a_response_is_not_stored_without_its_fit(app_db):
    at = signed_in("ann")
    form = choose(at, intents=["track_order"], sentiment="neutral")
    assert form.turn.get("response") and form.aligned is None
    at.button(key=form.key("submit")).click()
    at.run()
    assert FIT_MESSAGE in texts(at)
    assert open_form(at).form_id == form.form_id
    assert annotations.turn_state(app_db, form.turn_id, annotator="ann") is None
