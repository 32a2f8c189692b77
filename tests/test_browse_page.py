"""The Browse page as an analyst uses it: search the turns, tick one, read it whole and relabel it in
place (the fix lands in the store as the gold label); the status filter and the pages work; the page
is in the analysts' menu at /browse and an annotator opening /browse is told who it is for."""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, signed_in, texts
from store import analysis, annotations
from store import browse as store_browse
import test_analysis_pages
from test_analysis_pages import page_as
from test_app_urls import opened_at
from workbench import runtime
from workbench.components import fixes
from workbench.views import browse

app_db = test_analysis_pages.app_db     # the analyst pages' seeded fixture: x0..x19 labelled, ana on x0..x5


def tick(at, row: int):
    """Tick ``row`` of the results table, as a click on its checkbox does."""
    key = browse.hashed_key("browse_rows", at.session_state["browse_page"], at.session_state["browse_filters"])
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def test_search_tick_a_turn_and_relabel_it_in_place(app_db):
    at = page_as("browse", "ana")
    assert not at.exception, at.exception
    at.text_input(key="browse_search").input("ORDER 7").run()    # x7 "turn 7 <b>about</b> order 7", t-emoji "order 777"
    assert "2 turn(s) match" in texts(at)
    table = at.dataframe[0].value
    assert table["turn_id"].tolist() == ["t-emoji", "x7"]
    assert table["text"].tolist()[1] == "turn 7 <b>about</b> order 7"          # shown as typed, not rendered
    assert table["intents"].tolist()[1] == "greeting" and table["annotators"].tolist()[1] == "ann"
    tick(at, 1)
    assert "Turn x7" in texts(at) and "Intent(s): greeting" in texts(at)
    choice = fixes.choice_widget_key("browse_fix", turn_id="x7", field="intent", given="greeting")
    at.selectbox(key=choice).set_value("cancel_order").run()
    assert "Relabel to the chosen label: intents [greeting] -> [cancel_order]" in texts(at)
    at.button(key="browse_fix_relabel_chosen").click().run()
    assert not at.exception, at.exception
    now = analysis.current_labels(app_db, "default", ["x7"])["x7"]
    assert now["intents"] == ["cancel_order"] and now["source"] == "adjudicated"
    gold = annotations.history(app_db, "x7")[-1]
    assert gold["action"] == "adjudicate" and gold["annotator"] == "ana"
    assert "x7: intent greeting -> cancel_order" in texts(at)
    assert at.dataframe[0].value["intents"].tolist() == ["", "cancel_order"]      # the table reads it back


def test_status_and_annotator_filters_and_the_response_search(app_db):
    at = page_as("browse", "ana")
    at.selectbox(key="browse_status").set_value("disputed").run()
    assert at.dataframe[0].value["turn_id"].tolist() == ["x1", "x3", "x5"]      # the second annotator's odd turns
    queue = analysis.adjudication_queue(app_db, "default")
    assert sorted(queue[queue["reason"] == "disagreement"]["turn_id"]) == ["x1", "x3", "x5"]    # one definition
    at.selectbox(key="browse_status").set_value("any")
    at.selectbox(key="browse_annotator").set_value("ana").run()
    assert at.dataframe[0].value["turn_id"].tolist() == [f"x{i}" for i in range(6)]
    at.selectbox(key="browse_annotator").set_value(None)
    at.text_input(key="browse_search").input("ships tomorrow").run()
    assert "0 turn(s) match" in texts(at) and not at.dataframe
    at.checkbox(key="browse_in_response").check().run()
    assert at.dataframe[0].value["turn_id"].tolist() == ["t-en"]


def test_pages_of_results_and_new_filters_start_at_page_one(app_db, monkeypatch):
    monkeypatch.setattr(store_browse, "PAGE_SIZE", 10)
    at = page_as("browse", "ana")
    assert "25 turn(s) match" in texts(at) and len(at.dataframe[0].value) == 10
    at.number_input(key="browse_page").set_value(3).run()
    assert not at.exception, at.exception
    assert "Page 3 of 3" in texts(at) and at.dataframe[0].value["turn_id"].tolist() == [f"x{i}" for i in range(5, 10)]
    at.text_input(key="browse_search").input("about").run()
    assert "20 turn(s) match" in texts(at) and "Page 1 of 2" in texts(at)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("browse-template"))


@pytest.fixture
def app_file(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    analysis.wait_for_prewarm()
    runtime.close_stores()


def test_an_analyst_opens_browse_from_the_app(app_file, monkeypatch):
    at = signed_in("ana")
    opened_at(at, "browse", monkeypatch)
    assert not at.exception, at.exception
    assert "Browse turns" in texts(at) and "5 turn(s) match" in texts(at)


def test_an_annotator_is_refused_the_browse_page(app_file, monkeypatch):
    at = signed_in("ann")
    opened_at(at, "browse", monkeypatch)
    assert not at.exception, at.exception
    assert "This page is for analysts and admins" in texts(at)
    assert len(at.dataframe) == 0 and not any(w.key == "browse_search" for w in at.text_input)
