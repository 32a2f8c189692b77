"""The intent box picks one intent per Enter, and a submit refuses a turn with implausibly many.

Streamlit 1.67's multiselect puts "Select all" / "Select N matches" first and highlighted in its
list, so "/" then Enter took all 18 intents of the schema and the next Enter stored them (a reviewer
found such a label in the export); "change" + Enter took change_booking and change_address, and the
pre-fill stayed, as the rule replaces it for one picked intent only. The box is drawn without that
option (``select_all=False``, a proto field AppTest sees) and the submit refuses more than
``MAX_INTENTS_PER_TURN`` intents with a message saying how to fix it.
"""
from __future__ import annotations

import pytest

from app_testkit import TURNS, add_model_suggestion, make_template, open_copy, signed_in, texts
from store import annotations, labels
from workbench import runtime
from workbench.components import intent_guard, shortcuts
from workbench.views import label as label_page

EXTRA_INTENTS = ["change_booking", "change_address", "complaint", "book_flight"]


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-en"], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    for name in EXTRA_INTENTS:                          # nine intents: more than a turn may take
        labels.add_label(db, "default", "intent", name)
    add_model_suggestion(db, "t-en", intents=["track_order"], probs={"track_order": 0.98})
    yield db
    runtime.close_stores()


def _form(at):
    return at.session_state[label_page.FORM_KEY]


def _submit_with(at, intents: list[str]):
    form = _form(at)
    at.multiselect(key=form.key("intents")).set_value(intents)
    at.run()
    at.segmented_control(key=_form(at).key("sentiment")).set_value("neutral")
    at.segmented_control(key=_form(at).key("aligned")).set_value(True)
    at.button(key=_form(at).key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_intent_box_offers_no_select_all(app_db):
    at = signed_in("ann")
    box = at.multiselect(key=_form(at).key("intents"))
    assert len(box.options) == 9
    assert box.proto.select_all == 0, "the box offers 'Select all' / 'Select N matches' first"


def test_a_submit_with_more_intents_than_a_turn_takes_is_refused(app_db):
    schema = labels.get_schema(app_db, "default")
    too_many = schema["intents"][: intent_guard.MAX_INTENTS_PER_TURN + 1]
    at = _submit_with(signed_in("ann"), too_many)
    assert annotations.turn_state(app_db, "t-en", annotator="ann") is None
    assert _form(at).turn_id == "t-en" and _form(at).intents == too_many       # kept open to fix
    shown = texts(at)
    assert f"{len(too_many)} intents chosen: a turn takes at most {intent_guard.MAX_INTENTS_PER_TURN}" in shown

    allowed = too_many[: intent_guard.MAX_INTENTS_PER_TURN]
    _submit_with(at, allowed)
    assert annotations.turn_state(app_db, "t-en", annotator="ann")["intents"] == allowed


def test_the_key_help_says_enter_returns_to_the_page():
    rows = dict(shortcuts.shortcut_rows(["negative", "neutral", "positive"]))
    assert "returns to the page" in rows[shortcuts.SEARCH_INTENTS_KEY]



def test_a_multi_label_project_sets_its_own_ceiling(tmp_path, monkeypatch):
    """NLU++ has turns with six intents: once the project holds such a label, six may be submitted."""
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] in ("t-en", "t-sug")],
                             users=("ann", "ana"))
    app_db = open_copy(template, tmp_path, monkeypatch)
    for name in EXTRA_INTENTS:
        labels.add_label(app_db, "default", "intent", name)
    six = labels.get_schema(app_db, "default")["intents"][: intent_guard.MAX_INTENTS_PER_TURN + 1]
    assert annotations.largest_intent_set(app_db, "default") == 0
    annotations.record_submit(app_db, annotation_id="imported-6", turn_id="t-sug", project="default",
                              annotator="ana", intents=six, sentiment="neutral", aligned=True)
    assert annotations.largest_intent_set(app_db, "default") == len(six)
    at = signed_in("ann")
    turn_id = _form(at).turn_id
    _submit_with(at, six)
    assert annotations.turn_state(app_db, turn_id, annotator="ann")["intents"] == six
    runtime.close_stores()
