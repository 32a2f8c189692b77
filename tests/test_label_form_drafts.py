"""Drafts at the form level: the form's values go to store.drafts as the annotator changes them, and a
new session (a reload) that opens the same turn with that draft shows them again.

The page wiring (label.py: load on open, delete on submit/skip) is not here; these sessions open the
form the way the page does, with a real store.
"""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app_testkit import TURNS, make_template, open_copy
from store import drafts
from workbench import runtime
from workbench.components import label_form

KEY = dict(project="default", turn_id="t-zh", annotator="ann")
ZH_SPAN = {"start": 7, "end": 12, "label": "order_id"}          # "12345" in "退款 🙂 订单12345" (code points)
SCHEMA = {"intents": ["track_order", "return_item", "greeting", "cancel_order", "product_question"],
          "entities": ["order_id", "date", "product"], "sentiments": ["negative", "neutral", "positive"]}


def _form_script(db_path: str, turn_id: str, restore: bool):
    """One label-page session on one turn: open the form as the page does (draft loaded when
    ``restore``, saved on change), then draw its widgets."""
    import streamlit as st

    from store import drafts, turns
    from workbench import runtime
    from workbench.components import label_form

    db = runtime.get_store(db_path)
    key = dict(project="default", turn_id=turn_id, annotator="ann")
    schema = {"intents": ["track_order", "return_item", "greeting", "cancel_order", "product_question"],
              "entities": ["order_id", "date", "product"], "sentiments": ["negative", "neutral", "positive"]}
    if "form" not in st.session_state:
        st.session_state["form"] = label_form.open_form(
            turns.get_turn(db, turn_id), "default", prior=None, prefill=True,
            draft=drafts.load_draft(db, **key) if restore else None,
            save_draft=lambda values: drafts.save_draft(db, **key, values=values))
    form = st.session_state["form"]
    label_form.render_intents(form, schema, [])
    label_form.render_sentiment(form, schema)
    label_form.render_alignment(form)


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    wanted = ("t-zh", "t-sug")
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] in wanted], users=("ann",))
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def _session(db, turn_id: str = "t-zh", *, restore: bool) -> AppTest:
    at = AppTest.from_function(_form_script, args=(str(db.path), turn_id, restore), default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def test_a_reload_shows_the_unsaved_values_again(app_db):
    first = _session(app_db, restore=True)
    form = first.session_state["form"]
    assert not form.draft_restored and drafts.load_draft(app_db, **KEY) is None   # opening writes nothing
    form.spans = [ZH_SPAN]                      # as the span selector would hold it
    first.multiselect(key=form.key("intents")).set_value(["return_item"]).run()
    first.segmented_control(key=form.key("sentiment")).set_value("neutral").run()
    first.text_area(key=form.key("corrected")).input("好的 🙂 已退款").run()      # sets the fit: misaligned
    assert drafts.load_draft(app_db, **KEY) == {
        "intents": ["return_item"], "entities": [ZH_SPAN], "sentiment": "neutral", "aligned": False,
        "corrected_response": "好的 🙂 已退款"}

    again = _session(app_db, restore=True)                                         # a new session
    back = again.session_state["form"]
    assert back.form_id != form.form_id and back.draft_restored
    assert again.multiselect(key=back.key("intents")).value == ["return_item"]
    assert again.segmented_control(key=back.key("sentiment")).value == "neutral"
    assert again.segmented_control(key=back.key("aligned")).value is False
    assert again.text_area(key=back.key("corrected")).value == "好的 🙂 已退款"
    assert label_form.collect(back)["entities"] == [ZH_SPAN]


def test_a_draft_of_the_untouched_prefill_keeps_the_first_choice_replacing_it(app_db):
    first = _session(app_db, "t-sug", restore=True)
    form = first.session_state["form"]
    assert form.intents == ["cancel_order"] and label_form.holds_untouched_prefill(form)
    first.segmented_control(key=form.key("sentiment")).set_value("neutral").run()   # intents untouched
    back = _session(app_db, "t-sug", restore=True).session_state["form"]
    assert back.sentiment == "neutral" and label_form.holds_untouched_prefill(back)


def test_a_closed_form_writes_no_draft(app_db):
    at = _session(app_db, restore=False)
    form = at.session_state["form"]
    label_form.close_form(form)              # the page moved on: a late callback of this form
    label_form.apply_key_action(form, "sentiment", "neutral", SCHEMA, [])
    assert drafts.load_draft(app_db, **KEY) is None
