"""The first intent choice on a pre-filled turn replaces the pre-filled intents; A keeps them.

The schema is multi-label and the form pre-fills every intent the model gives >= 0.5, so a choice
("/" search + Enter, or a digit) used to add to a guess the annotator had not made: "book a one-way
ticket" was stored with a 51% hotel_reservation beside the chosen book_flight. The chosen intents are
also written out in full under the box (its chips clipped the third to "co…"), and confidences never
read "100%" for a model that is not certain.
"""
from __future__ import annotations

import pytest

from app_testkit import TURNS, add_model_suggestion, make_template, open_copy, signed_in, texts
from store import annotations
from workbench import runtime
from workbench.components import label_form
from workbench.views import label as label_page

PREFILLED = ["track_order", "return_item"]            # return_item confident enough to pre-fill as a second intent
PROBS = {"track_order": 0.996, "return_item": 0.85, "greeting": 0.1}


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-en"], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    add_model_suggestion(db, "t-en", intents=PREFILLED, probs=PROBS)
    yield db
    runtime.close_stores()


def _form(at):
    return at.session_state[label_page.FORM_KEY]


def _pick(at, intent: str) -> list[str]:
    """Pick ``intent`` in the intent box (what "/", typing and Enter do); the intents the form then holds."""
    at.multiselect(key=_form(at).key("intents")).select(intent)
    at.run()
    assert not at.exception, at.exception
    form = _form(at)
    assert at.multiselect(key=form.key("intents")).value == form.intents      # the box shows what is held
    return form.intents


def _submit(at, db) -> list[str]:
    at.segmented_control(key=_form(at).key("sentiment")).set_value("neutral")    # a submit needs both
    at.segmented_control(key=_form(at).key("aligned")).set_value(True)
    at.button(key=_form(at).key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    return annotations.turn_state(db, "t-en", annotator="ann")["intents"]


def test_a_search_pick_replaces_the_untouched_prefill_and_later_picks_add(app_db):
    at = signed_in("ann")
    assert _form(at).intents == PREFILLED
    shown = texts(at)
    assert "Intents to store: <b>track_order, return_item</b>" in shown
    assert "your first intent choice replaces them" in shown
    assert _pick(at, "greeting") == ["greeting"]
    assert "Intents to store: <b>greeting</b>" in texts(at)
    assert "your first intent choice replaces them" not in texts(at)
    assert _pick(at, "cancel_order") == ["greeting", "cancel_order"]
    assert _submit(at, app_db) == ["greeting", "cancel_order"]


def test_accepting_keeps_the_prefill_and_a_pick_then_adds(app_db):
    at = signed_in("ann")
    at.button(key=_form(at).key("accept")).click()
    at.run()
    assert _form(at).intents == PREFILLED
    assert _pick(at, "greeting") == [*PREFILLED, "greeting"]
    assert "Intents to store: <b>track_order, return_item, greeting</b>" in texts(at)
    assert _submit(at, app_db) == [*PREFILLED, "greeting"]


def test_removing_a_prefilled_chip_is_a_change_and_a_pick_then_adds(app_db):
    at = signed_in("ann")
    at.multiselect(key=_form(at).key("intents")).set_value(["track_order"])
    at.run()
    assert _form(at).intents == ["track_order"]
    assert "Intents to store: <b>track_order</b>" in texts(at)
    assert "your first intent choice replaces them" not in texts(at)
    assert _pick(at, "greeting") == ["track_order", "greeting"]


def _digit_keys_script(db_path: str):
    """Runs inside an AppTest session: digit keys arrive as the span selector's log on a pre-filled turn."""
    import streamlit as st

    from workbench import runtime
    from workbench.auth import User
    from workbench.views import label as page

    if "result" in st.session_state:
        return
    db = runtime.get_store(db_path)
    user = User("ann", "annotator")
    form = page.claim_and_open(db, user, "default")
    held = [list(form.intents)]
    log = []
    for seq, digit in enumerate((1, 2), start=1):            # quick list indices: 1 return_item (key 2), 2 greeting
        log.append([seq, "intent", digit])
        st.session_state[form.key("span")] = {"actions": {"log": list(log)}}
        page.on_keys(db, user, "default", form.form_id)
        held.append(list(form.intents))
    st.session_state["result"] = held


def test_digit_keys_replace_the_untouched_prefill_then_toggle(app_db):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_digit_keys_script, args=(str(app_db.path),), default_timeout=30).run()
    assert not at.exception, at.exception
    # the digit of a pre-filled intent keeps just that one; the next digit adds
    assert at.session_state["result"] == [PREFILLED, ["return_item"], ["return_item", "greeting"]]


def test_confidences_between_0_and_1_never_read_100_or_0_percent(app_db):
    at = signed_in("ann")
    banner = next(e.proto.body for e in at.get("html") if "<b>Suggestion</b>" in e.proto.body)
    assert "<b>track_order</b> 99%" in banner and "100%" not in banner
    assert [label_form.percent(p) for p in (0.996, 0.004, 0.2, 0.0, 1.0)] == ["99%", "1%", "20%", "0%", "100%"]
