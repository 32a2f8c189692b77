"""A flag set before a reload is shown after it and can still be taken back.

A reload is a new Streamlit session: the form that set the flag (``form.flagged``) was gone, so the
reopened turn showed "Flag · F", a press flagged it a second time and the next press took back only
that second flag -- the first stayed in the admin's adjudication queue with no way to retract it.

The same browser review of the Label page found two smaller faults, tested here too: the empty
queue's undo button read "Undo last submit · U  U" and was offered to someone who had only skipped;
and with nothing picked, the submit's message said "...or skip the turn with S." three times.
"""
from __future__ import annotations

import pytest

from app_testkit import flag_button, make_template, open_copy, open_label_form, signed_in, texts
from store import agreement, annotations
from workbench import runtime
from workbench.components import label_form
from workbench.views import label as label_page


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("label-flag-reload"), users=("ann",))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()




def _flagged_then_reloaded(app_db):
    """ann flags the turn she is shown, then reloads: the new session reopens the same turn."""
    before = signed_in("ann")
    turn_id = open_label_form(before).turn_id
    flag_button(before).click()
    before.run()
    assert turn_id in set(agreement.adjudication_queue(app_db, "default")["turn_id"])
    after = signed_in("ann")
    assert not after.exception, after.exception
    assert open_label_form(after).turn_id == turn_id
    return after, turn_id


def test_a_flag_set_before_a_reload_is_shown_and_f_takes_it_back(app_db):
    at, turn_id = _flagged_then_reloaded(app_db)
    assert open_label_form(at).flagged
    assert "🚩 flagged" in texts(at)
    assert "Unflag" in flag_button(at).label
    flag_button(at).click()
    at.run()
    assert not open_label_form(at).flagged and "Flag removed." in texts(at)
    assert annotations.open_flag(app_db, turn_id, "ann") is None
    assert turn_id not in set(agreement.adjudication_queue(app_db, "default")["turn_id"])
    assert [h["action"] for h in annotations.history(app_db, turn_id)] == ["flag", "unflag"]


def test_a_submit_after_the_reload_is_stored_flagged(app_db):
    at, turn_id = _flagged_then_reloaded(app_db)
    form = open_label_form(at)
    at.multiselect(key=form.key("intents")).set_value(["greeting"])
    at.segmented_control(key=form.key("sentiment")).set_value("neutral")
    at.segmented_control(key=form.key("aligned")).set_value(True)
    at.button(key=form.key("submit")).click()
    at.run()
    submitted = [h for h in annotations.history(app_db, turn_id) if h["action"] == "submit"]
    assert submitted and submitted[0]["flagged"] is True


def test_one_unflag_takes_back_every_standing_flag_of_the_annotator(app_db):
    """Flags set twice (the second after a reload lost sight of the first) are all taken back."""
    who = dict(turn_id="t-en", project="default", annotator="ann")
    annotations.flag(app_db, annotation_id="f1", **who)
    annotations.flag(app_db, annotation_id="f2", **who)
    assert annotations.open_flag(app_db, "t-en", "ann") == "f2"
    assert annotations.unflag(app_db, annotation_id="u1", **who)
    assert annotations.open_flag(app_db, "t-en", "ann") is None
    assert "t-en" not in set(agreement.adjudication_queue(app_db, "default")["turn_id"])


def _undo_buttons(at):
    return [b for b in at.button if (b.key or "").startswith("label-undo")]


def _empty_the_queue(at, *, submit_first: bool):
    """Skip every turn ann is shown (submitting the first one if asked) until the queue is empty."""
    for n in range(10):                              # the seeded data has five turns
        if label_page.FORM_KEY not in at.session_state:
            break
        form = open_label_form(at)
        if submit_first and n == 0:
            at.multiselect(key=form.key("intents")).set_value(["greeting"])
            at.segmented_control(key=form.key("sentiment")).set_value("neutral")
            at.segmented_control(key=form.key("aligned")).set_value(True)
            at.button(key=form.key("submit")).click()
        else:
            at.button(key=form.key("skip")).click()
        at.run()
    assert "Your queue is empty" in texts(at)


def test_the_empty_queue_offers_no_undo_to_someone_who_only_skipped(app_db):
    at = signed_in("ann")
    _empty_the_queue(at, submit_first=False)
    assert _undo_buttons(at) == []


def test_the_empty_queues_undo_button_names_its_key_once(app_db):
    at = signed_in("ann")
    _empty_the_queue(at, submit_first=True)
    (undo,) = _undo_buttons(at)
    assert undo.label == "Undo last submit" and undo.proto.shortcut.upper() == "U"


def test_nothing_picked_is_one_message_naming_each_choice_and_the_skip_once():
    schema = {"intents": ["refund"], "entities": [], "sentiments": ["negative", "neutral", "positive"]}
    turn = {"turn_id": "t", "text": "退款", "response": "好的，已为您处理。"}
    found = label_form.problems({"intents": [], "sentiment": None, "aligned": None, "entities": [],
                                 "corrected_response": None}, schema, turn=turn)
    assert found == ["Pick at least one intent (digits, or / to search), a sentiment (Q/W/E) and the response "
                     "fit (G aligned, M misaligned), or skip the turn with S."]
    overlap = [{"start": 0, "end": 2, "label": "x"}, {"start": 1, "end": 2, "label": "y"}]
    message = " ".join(label_form.problems({"intents": [], "sentiment": "neutral", "aligned": True,
                                            "entities": overlap}, schema, turn=turn))
    assert message.count("skip the turn with S") == 1 and message.endswith("or skip the turn with S.")
