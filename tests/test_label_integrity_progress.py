"""The progress panel says how many turns are left for this annotator, and counts turns, not submits."""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, signed_in
from store import annotations, queue
from workbench import runtime
from workbench.views import label as label_page


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("label-progress"), users=("ann", "ana"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def _left(db, who="ann"):
    return annotations.progress(db, "default", who)["available"]


def test_turns_left_for_an_annotator_follow_labels_skips_and_others_leases(app_db):
    assert _left(app_db) == 5                                   # the seeded data's five turns
    mine = queue.claim_next(app_db, "default", "ann")["turn_id"]
    assert _left(app_db) == 5                                   # the turn one holds is still theirs to label
    theirs = queue.claim_next(app_db, "default", "ana")["turn_id"]
    assert _left(app_db) == 4                                   # held by another annotator (overlap 1)
    for annotation_id in ("tab1", "tab2"):                      # labelled twice (two tabs): one turn
        annotations.submit(app_db, annotation_id=annotation_id, turn_id=mine, project="default",
                           annotator="ann", intents=["greeting"])
    assert _left(app_db) == 3 and annotations.progress(app_db, "default", "ann")["mine_today"] == 1
    skipped = queue.claim_next(app_db, "default", "ann")["turn_id"]
    annotations.skip(app_db, annotation_id="s1", turn_id=skipped, project="default", annotator="ann")
    assert _left(app_db) == 2
    annotations.revisit_skipped(app_db, project="default", annotator="ann")
    assert _left(app_db) == 3
    assert _left(app_db, "ana") == 4 and theirs != mine         # ann's label closed one turn for ana


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_the_panel_shows_turns_left_and_keeps_it_current(app_db):
    at = signed_in("ann")
    assert _metric(at, "Left for me") == "5"
    form = at.session_state[label_page.FORM_KEY]
    at.multiselect(key=form.key("intents")).set_value(["greeting"])
    at.segmented_control(key=form.key("sentiment")).set_value("neutral")
    at.button(key=form.key("submit")).click()
    at.run()
    assert _metric(at, "Left for me") == "4" and _metric(at, "Mine today") == "1"
    at.button(key=at.session_state[label_page.FORM_KEY].key("skip")).click()
    at.run()
    assert _metric(at, "Left for me") == "3"
