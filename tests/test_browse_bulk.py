"""Bulk actions on the Browse page: tick several rows, set one intent (or confirm the labels) on all of
them after a preview line, and every labelled turn gets the analyst's adjudication -- the single-row fix's
gold label -- while an unlabelled turn is skipped and said so. The write is one transaction: one refused
turn leaves every turn of the selection as it was."""
from __future__ import annotations

import pytest

from app_testkit import texts
from store import analysis, annotations
from store.browse import plan_bulk
import test_analysis_pages
from test_analysis_pages import page_as
from workbench.views import browse

app_db = test_analysis_pages.app_db     # x0..x19 labelled (x0..x5 by ann and ana), the t-* turns unlabelled


def tick(at, rows: list[int]):
    """Tick ``rows`` of the results table, as clicks on their checkboxes do."""
    key = browse.hashed_key("browse_rows", at.session_state["browse_page"], at.session_state["browse_filters"])
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_set_an_intent_on_three_ticked_turns_one_unlabelled(app_db):
    at = page_as("browse", "ana")
    table = at.dataframe[0].value["turn_id"].tolist()
    chosen = ["t-en", "x2", "x7"]                   # t-en has no label; x2 and x7 are ann's greeting
    tick(at, [table.index(t) for t in chosen])
    assert not at.exception, at.exception
    assert "3 turns ticked: t-en, x2, x7" in texts(at)
    assert at.button(key="browse_bulk_apply").disabled              # no intent chosen yet
    at.selectbox(key="browse_bulk_intent").set_value("cancel_order").run()
    assert ("Will set intent cancel_order on 2 turn(s) (replacing their intents); 0 already have it; "
            "1 skipped, not labelled yet") in texts(at)
    at.button(key="browse_bulk_apply").click().run()
    assert not at.exception, at.exception
    now = analysis.current_labels(app_db, "default", chosen)
    assert set(now) == {"x2", "x7"}                                  # t-en: still no label
    for turn_id in ("x2", "x7"):
        assert now[turn_id]["intents"] == ["cancel_order"] and now[turn_id]["source"] == "adjudicated"
        assert now[turn_id]["sentiment"] == "neutral"               # the other fields are kept
        gold = annotations.history(app_db, turn_id)[-1]
        assert gold["action"] == "adjudicate" and gold["annotator"] == "ana"
    assert not [a for a in annotations.history(app_db, "t-en") if a["action"] == "adjudicate"]
    assert "Set intent cancel_order on 2 turn(s); 0 already had it" in texts(at)
    assert "1 skipped, not labelled yet: there is no label to change or confirm" in texts(at)
    shown = at.dataframe[0].value.set_index("turn_id")["intents"]
    assert shown["x2"] == shown["x7"] == "cancel_order" and shown["t-en"] == ""


def test_confirm_the_current_labels_of_ticked_turns(app_db):
    at = page_as("browse", "ana")
    table = at.dataframe[0].value["turn_id"].tolist()
    tick(at, [table.index(t) for t in ("x1", "x8")])                 # x1: ann and ana disagree, no gold yet
    at.radio(key="browse_bulk_action").set_value("confirm").run()
    assert ("Will confirm the current labels of 2 turn(s) as the adjudicated gold label; 0 already are"
            in texts(at))
    before = analysis.current_labels(app_db, "default", ["x8"])["x8"]
    at.button(key="browse_bulk_apply").click().run()
    assert not at.exception, at.exception
    after = analysis.current_labels(app_db, "default", ["x1", "x8"])
    assert after["x8"]["source"] == "adjudicated" and after["x8"]["intents"] == before["intents"]
    assert after["x1"]["source"] == "adjudicated"
    assert "Will confirm the current labels of 0 turn(s) as the adjudicated gold label; 2 already are" in texts(at)


def test_a_multi_label_project_adds_the_intent_when_asked(app_db):
    annotations.adjudicate(app_db, annotation_id="multi", turn_id="x3", project="default", reviewer="ana",
                           intents=["cancel_order", "greeting"], sentiment="neutral")    # now a multi-label project
    at = page_as("browse", "ana")
    table = at.dataframe[0].value["turn_id"].tolist()
    tick(at, [table.index(t) for t in ("x3", "x8")])                 # x8: ann's cancel_order
    at.selectbox(key="browse_bulk_intent").set_value("greeting")
    at.radio(key="browse_bulk_mode").set_value("add").run()
    assert "Will set intent greeting on 1 turn(s) (added to their intents); 1 already have it" in texts(at)
    at.button(key="browse_bulk_apply").click().run()
    assert analysis.current_labels(app_db, "default", ["x8"])["x8"]["intents"] == ["cancel_order", "greeting"]


def test_one_ticked_row_still_opens_the_single_turn_fix(app_db):
    at = page_as("browse", "ana")
    table = at.dataframe[0].value["turn_id"].tolist()
    tick(at, [table.index("x7")])
    assert "Turn x7" in texts(at) and not any(b.key == "browse_bulk_apply" for b in at.button)
    assert any(b.key == "browse_fix_confirm" for b in at.button)


def test_the_bulk_write_is_one_transaction(app_db):
    plan = plan_bulk(app_db, "default", ["x2", "x7"], action="set_intent", intent="cancel_order")
    resolutions = [dict(annotation_id=f"bulk-{t}", turn_id=t, project="default", reviewer="ana", **labels)
                   for t, labels in plan.changes.items()]
    refused = dict(resolutions[0], annotation_id="bulk-ghost", turn_id="no-such-turn")
    with pytest.raises(annotations.SubmitRefused, match="not in project"):
        annotations.adjudicate_many(app_db, [resolutions[0], refused, resolutions[1]])
    now = analysis.current_labels(app_db, "default", ["x2", "x7"])
    assert now["x2"]["intents"] == ["greeting"] and now["x7"]["intents"] == ["greeting"]    # neither written
    assert now["x2"]["source"] != "adjudicated" and now["x7"]["source"] != "adjudicated"
    assert annotations.adjudicate_many(app_db, resolutions) == 2
    assert annotations.adjudicate_many(app_db, resolutions) == 0                   # a double click stores once
    assert analysis.current_labels(app_db, "default", ["x2"])["x2"]["intents"] == ["cancel_order"]


def test_plan_replaces_or_adds_and_counts_who_already_has_it(app_db):
    annotations.adjudicate(app_db, annotation_id="multi", turn_id="x3", project="default", reviewer="ana",
                           intents=["cancel_order", "greeting"], sentiment="neutral")
    ids = ["x3", "x8", "t-zh"]                                       # x8: ann's cancel_order; t-zh unlabelled
    add = plan_bulk(app_db, "default", ids, action="set_intent", intent="cancel_order", mode="add")
    assert add.changes == {} and add.unchanged == ["x3", "x8"] and add.unlabelled == ["t-zh"]
    replace = plan_bulk(app_db, "default", ids, action="set_intent", intent="cancel_order", mode="replace")
    assert list(replace.changes) == ["x3"] and replace.changes["x3"]["intents"] == ["cancel_order"]
    greeting = plan_bulk(app_db, "default", ids, action="set_intent", intent="greeting", mode="add")
    assert greeting.changes["x8"]["intents"] == ["cancel_order", "greeting"] and greeting.unchanged == ["x3"]
    with pytest.raises(ValueError):
        plan_bulk(app_db, "default", ids, action="delete")
