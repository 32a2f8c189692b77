"""A late submit from an expired session must not beat the annotator who now holds the turn.

The browser review: A claims a turn (overlap 1) and goes idle past the lease; the turn goes to B;
A comes back and submits ("Saved."), then B's submit is refused as "reassigned" although B's lease
is live, and B gets the same closed turn back with an empty form, forever. The holder of the live
lease keeps the turn; the lapsed submit is refused, its lease dropped, and it moves on.
"""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from app_testkit import make_template, open_copy, open_label_form, signed_in, texts
from store import annotations, importer, queue
from store.annotations import SubmitRefused
from workbench import runtime


@pytest.fixture
def pool(db, tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps({"id": f"t{i}", "text": f"turn number {i}", "response": f"r{i}"}) + "\n"
                            for i in range(6)))
    assert importer.import_files(db, [path]).ok
    return db


def _submit(db, turn_id, who, **extra):
    return annotations.submit(db, annotation_id=uuid.uuid4().hex, turn_id=turn_id, project="default",
                              annotator=who, intents=["a"], **extra)


def _lapsed_claim(db, who):
    """A claim whose 1 s lease ran out ten seconds ago."""
    return queue.claim_next(db, "default", who, ttl_s=1, now=queue.utcnow() - timedelta(seconds=10))["turn_id"]


def _labelled_by(db, turn_id):
    return sorted(h["annotator"] for h in annotations.history(db, turn_id) if h["action"] == "submit")


def test_the_live_lease_holder_keeps_the_turn_and_the_lapsed_submit_is_refused(pool):
    turn = _lapsed_claim(pool, "ann")
    assert queue.claim_next(pool, "default", "bob")["turn_id"] == turn
    with pytest.raises(SubmitRefused, match="lapsed and the turn was reassigned to another annotator"):
        _submit(pool, turn, "ann")
    assert pool.query("SELECT turn_id FROM leases WHERE annotator = 'ann'") == []
    assert _submit(pool, turn, "bob") is True
    assert _labelled_by(pool, turn) == ["bob"]
    assert queue.claim_next(pool, "default", "ann")["turn_id"] != turn


def test_a_lapsed_submit_nobody_competes_with_is_kept_and_says_so(pool):
    turn = _lapsed_claim(pool, "ann")
    outcome = annotations.record_submit(pool, annotation_id="late", turn_id=turn, project="default",
                                        annotator="ann", intents=["a"])
    assert outcome.stored and outcome.lease_lapsed
    assert _labelled_by(pool, turn) == ["ann"]


def test_a_held_lease_on_a_turn_others_closed_is_not_handed_back(pool):
    turn = queue.claim_next(pool, "default", "ann")["turn_id"]
    assert _submit(pool, turn, "ann")
    pool.write(queue.lease_turn, "default", turn, "bob")       # bob's lease from before ann closed it
    got = queue.claim_next(pool, "default", "bob")
    assert got is not None and got["turn_id"] != turn
    assert pool.query("SELECT turn_id FROM leases WHERE annotator = 'bob'") == [(got["turn_id"],)]


# -- the browser flow, through the label page ------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("label-lease"), users=("ann", "ana"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()



def _expire_leases_of(db, who):
    db.write(lambda con: con.execute("UPDATE leases SET expires_at = ? WHERE annotator = ?",
                                     [queue.utcnow() - timedelta(seconds=1), who]))


def _submit_form(at, intents):
    form = open_label_form(at)
    at.multiselect(key=form.key("intents")).set_value(intents)
    at.button(key=form.key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    return form


def test_a_late_tab_loses_to_the_new_holder_and_neither_is_looped(app_db):
    ann = signed_in("ann")
    turn = open_label_form(ann).turn_id
    _expire_leases_of(app_db, "ann")                  # ann idles past the lease
    ana = signed_in("ana").switch_page("views/label.py").run()     # analysts land on the Pipeline page
    assert open_label_form(ana).turn_id == turn                 # ...and the turn goes to ana
    _submit_form(ann, ["greeting"])                   # ann comes back and submits
    assert "reassigned to another annotator" in texts(ann) and "Saved." not in texts(ann)
    assert open_label_form(ann).turn_id != turn                 # ann moves on
    _submit_form(ana, ["track_order"])
    assert "Saved." in texts(ana)
    assert open_label_form(ana).turn_id != turn                 # not the same turn again with an empty form
    assert _labelled_by(app_db, turn) == ["ana"]
    assert annotations.turn_state(app_db, turn)["intents"] == ["track_order"]


def test_a_lapsed_hold_nobody_took_is_saved_with_a_notice(app_db):
    from workbench.components.recent_labels import snippet

    ann = signed_in("ann")
    form = open_label_form(ann)
    turn = form.turn_id
    _expire_leases_of(app_db, "ann")
    _submit_form(ann, ["greeting"])
    assert "had lapsed while you were away" in texts(ann)
    # shown above the NEXT turn: it names the submitted one, not "this turn"
    assert f'hold on the turn you just submitted of "{snippet(form.turn["text"])}"' in texts(ann)
    assert _labelled_by(app_db, turn) == ["ann"]
