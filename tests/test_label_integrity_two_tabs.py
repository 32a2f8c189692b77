"""One live annotation per (turn, annotator): a second submit replaces the first, as an edit would.

The browser review: one annotator with two tabs on the same turn; tab 1 submits, tab 2 (still
showing the turn) submits different labels, and both were stored live: the export took tab 2's,
"Mine today" counted two and disagreed with the Agreement page. Now the second replaces the first
(both stay in the history), the annotator is told so, and the counters count turns.
"""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, signed_in, texts
from store import annotations, queue
from store.effective import effective_labels
from workbench import runtime
from workbench.views import label as label_page

REPLACED = "; your new labels replace the earlier ones."   # after 'You had already labelled "<the turn>"'


def _live(db, turn_id):
    return db.query(f"SELECT annotator, intents FROM ({queue.LIVE_LABELS}) WHERE turn_id = ? ORDER BY seq", [turn_id])


def test_a_second_submit_by_the_same_annotator_replaces_the_first_and_keeps_history(db, tmp_path):
    from app_testkit import seed

    seed(db, tmp_path, users=("ann",))
    first = annotations.record_submit(db, annotation_id="tab1", turn_id="t-en", project="default",
                                      annotator="ann", intents=["greeting"])
    second = annotations.record_submit(db, annotation_id="tab2", turn_id="t-en", project="default",
                                       annotator="ann", intents=["track_order"])
    assert _live(db, "t-en") == [("ann", ["track_order"])]
    assert first.replaced is None and second.replaced == ["greeting"]
    assert [h["annotation_id"] for h in annotations.history(db, "t-en")] == ["tab1", "tab2"]
    row = effective_labels(db).set_index("turn_id").loc["t-en"]
    assert list(row["intents"]) == ["track_order"]
    assert annotations.progress(db, "default", "ann")["mine_today"] == 1
    # Undoing the replacement brings the earlier labels back, as undoing an edit would.
    assert annotations.undo_last(db, annotation_id="u1", project="default", annotator="ann") == "t-en"
    assert _live(db, "t-en") == [("ann", ["greeting"])]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("label-tabs"), users=("ann",))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def _submit_form(at, intents):
    form = at.session_state[label_page.FORM_KEY]
    at.multiselect(key=form.key("intents")).set_value(intents)
    at.button(key=form.key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    return form


def _mine_today(at):
    return next(m.value for m in at.metric if m.label == "Mine today")


def test_two_tabs_on_one_turn_store_one_live_label_and_count_one_turn(app_db):
    tab1, tab2 = signed_in("ann"), signed_in("ann")
    turn = tab1.session_state[label_page.FORM_KEY].turn_id
    assert tab2.session_state[label_page.FORM_KEY].turn_id == turn
    _submit_form(tab1, ["greeting"])
    assert "Saved." in texts(tab1)
    _submit_form(tab2, ["track_order"])
    assert _live(app_db, turn) == [("ann", ["track_order"])]
    assert annotations.progress(app_db, "default", "ann")["mine_today"] == 1
    assert _mine_today(tab2) == "1"
    assert REPLACED in texts(tab2)
