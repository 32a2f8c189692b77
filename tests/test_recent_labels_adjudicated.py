"""My recent labels after a reviewer adjudicated one of the annotator's turns.

A browser review found: the annotator labels a turn, an analyst relabels it on Label errors (an
adjudication, the turn's gold label), the annotator presses Edit on it in "My recent labels" (their old
labels, no warning), changes something and submits: "already has its 1 label(s) from other annotators;
your labels were not stored" although nobody else had labelled it. The list now says the turn is settled
and offers no Edit, Edit pressed on a list drawn before the adjudication does not reopen it, and a submit
refused because of an adjudication says a reviewer settled the turn.

The same review found the confirmation of an edit landing on the wrong turn: after Edit and submit the
page is back on the turn that was left, under "You had already labelled this turn; ...", which read as
being about the turn on screen. It now quotes the edited turn, drawn as escaped text (turn text is data).
"""
from __future__ import annotations

import uuid

import pytest

from app_testkit import (TURNS, make_template, open_copy, open_label_form,
                         open_recent_labels, signed_in, submit_label, texts, xss_turn)
from store import annotations
from workbench import runtime
from workbench.components import recent_labels
from workbench.views.label_actions import SETTLED_EDIT_MESSAGE

SETTLED_REFUSAL = "a reviewer has settled this turn's label since; your labels were not stored"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("recent-adjudicated"), users=("ann", "ana"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def _adjudicate(db, turn_id: str, intents: list[str]) -> None:
    """What Label errors does when the analyst relabels the turn."""
    annotations.adjudicate(db, annotation_id=str(uuid.uuid4()), turn_id=turn_id, project="default", reviewer="ana",
                           intents=intents, sentiment="neutral", aligned=True)



def test_an_adjudicated_turn_is_listed_as_settled_without_edit(app_db):
    at = signed_in("ann")
    settled = submit_label(at, ["track_order"])
    kept = submit_label(at, ["greeting"])
    _adjudicate(app_db, settled.turn_id, ["return_item"])
    buttons = open_recent_labels(at)
    assert [b.key for b in buttons] == [recent_labels.edit_button_key(kept.form_id)]
    rows = [t.value for t in at.sidebar.text if "track_order" in t.value or "greeting" in t.value]
    settled_row = next(r for r in rows if "track_order" in r)
    assert settled_row.endswith("\n" + recent_labels.SETTLED_NOTE)
    assert not any(recent_labels.SETTLED_NOTE in r for r in rows if r != settled_row)


def test_a_fit_only_adjudication_leaves_the_label_editable(app_db):
    """The Misalignment page's fit fix labels no intent, span or sentiment: it settles nothing."""
    at = signed_in("ann")
    done = submit_label(at, ["track_order"])
    annotations.adjudicate(app_db, annotation_id="fit-1", turn_id=done.turn_id, project="default",
                           reviewer="ana", aligned=False)
    assert [b.key for b in open_recent_labels(at)] == [recent_labels.edit_button_key(done.form_id)]
    assert recent_labels.SETTLED_NOTE not in texts(at)


def test_edit_pressed_after_the_adjudication_does_not_reopen_the_turn(app_db):
    at = signed_in("ann")
    done = submit_label(at, ["track_order"])
    left = open_label_form(at)
    edit = open_recent_labels(at)[0]                       # drawn before the analyst's relabel
    _adjudicate(app_db, done.turn_id, ["return_item"])
    edit.click()
    at.run()
    assert not at.exception, at.exception
    assert open_label_form(at).form_id == left.form_id
    assert SETTLED_EDIT_MESSAGE in texts(at)


def test_a_submit_refused_by_an_adjudication_says_a_reviewer_settled_the_turn(app_db):
    at = signed_in("ann")
    done = submit_label(at, ["track_order"])
    open_recent_labels(at)[0].click()
    at.run()
    edited = open_label_form(at)
    assert edited.turn_id == done.turn_id
    _adjudicate(app_db, done.turn_id, ["return_item"])         # while the edit is open
    at.multiselect(key=edited.key("intents")).set_value(["product_question"])
    at.button(key=edited.key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert SETTLED_REFUSAL in shown and "other annotators" not in shown
    assert annotations.turn_state(app_db, done.turn_id, annotator="ann")["intents"] == ["track_order"]
    assert open_label_form(at).turn_id != done.turn_id


def test_a_turn_taken_by_another_annotator_still_says_so(app_db):
    """No adjudication: the refusal keeps naming the other annotators (ann holds no lease: "reassigned")."""
    turn_id = "t-en"
    annotations.record_submit(app_db, annotation_id="ana-1", turn_id=turn_id, project="default", annotator="ana",
                              intents=["greeting"])
    with pytest.raises(annotations.TurnTaken, match="reassigned to another annotator"):
        annotations.record_submit(app_db, annotation_id="ann-1", turn_id=turn_id, project="default",
                                  annotator="ann", intents=["track_order"])
    _adjudicate(app_db, turn_id, ["return_item"])
    with pytest.raises(annotations.TurnTaken, match="a reviewer has settled"):
        annotations.record_submit(app_db, annotation_id="ann-2", turn_id=turn_id, project="default",
                                  annotator="ann", intents=["track_order"])


@pytest.fixture
def edit_db(tmp_path, monkeypatch):
    """ann has labelled the injection-attempt turn and t-en; t-zh is the turn open when Edit is pressed."""
    turns = [t for t in TURNS if t["id"] in ("t-zh", "t-en")] + [xss_turn()]
    db = open_copy(make_template(tmp_path / "tpl", turns=turns, users=("ann",)), tmp_path, monkeypatch)
    for annotation_id, turn_id in (("ann-xss", "t-xss"), ("ann-en", "t-en")):
        annotations.record_submit(db, annotation_id=annotation_id, turn_id=turn_id, project="default",
                                  annotator="ann", intents=["track_order"], sentiment="neutral", aligned=True)
    yield db
    runtime.close_stores()


def test_the_notice_after_an_edit_names_the_edited_turn_as_text(edit_db):
    at = signed_in("ann")
    left = open_label_form(at)
    assert left.turn_id == "t-zh"
    next(b for b in open_recent_labels(at) if b.key == recent_labels.edit_button_key("ann-xss")).click()
    at.run()
    edited = open_label_form(at)
    assert edited.turn_id == "t-xss"
    at.multiselect(key=edited.key("intents")).set_value(["greeting"])
    at.button(key=edited.key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    assert open_label_form(at).turn_id == "t-zh"                    # back on the turn that was left
    quoted = f'Your edit of "{recent_labels.snippet(xss_turn()["text"])}" is saved'
    assert quoted in texts(at) and "already labelled this turn" not in texts(at)
    body = next(e.proto.body for e in at.get("html") if "Your edit of" in e.proto.body)
    assert "&lt;script&gt;" in body and "<script>" not in body        # escaped, never Markdown
    assert not at.success
