"""The analyst pages through AppTest: each renders for an analyst (and refuses an annotator), a confusion
cell leads to its turns and one click relabels a turn in the store, the label-error list fixes and
sends to review, the misalignment filters work, and an adjudication becomes the gold label."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from app_testkit import PASSWORDS, ROLES, seed, texts
from store import analysis, annotations, labels
from workbench import runtime

INTENTS = ["track_order", "return_item", "greeting", "cancel_order", "product_question"]
PAGES = ["health", "label_errors", "misalignment", "agreement"]


def _page(module: str):
    import importlib

    from workbench import runtime

    from workbench import auth

    page = importlib.import_module(f"workbench.views.{module}")
    db = runtime.get_store(runtime.parse_settings().db_path)
    user = auth.require_role(db, ("analyst", "admin"))      # what app.module_page does before render
    page.render(db, user)


def page_as(module: str, username: str):
    from streamlit.testing.v1 import AppTest

    from workbench import auth

    at = AppTest.from_function(_page, args=(module,), default_timeout=60)
    now = time.time()
    at.session_state[auth.SESSION_KEY] = {"username": username, "role": ROLES[username], "signed_in_at": now,
                                          "last_seen": now}
    return at.run()


def add_run(db, run_id: str, predictions: dict, finished: str) -> None:
    def write(con):
        con.execute("INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
                    " created_at, finished_at) VALUES (?, 'default', 'fast', 'done', ?, ?, ?, '{}', ?, ?)",
                    [run_id, f"v-{run_id}", len(predictions), json.dumps({"holdout": {"intent_accuracy": 0.8}}),
                     finished, finished])
        for tid, (intent, p, alignment) in predictions.items():
            con.execute("INSERT INTO predictions (run_id, turn_id, intents, intent_probs, entities, entity_scores,"
                        " sentiment, sentiment_probs, alignment_score, misalignment_prob, uncertainty)"
                        " VALUES (?, ?, ?, ?, [], [], 'neutral', '{\"neutral\": 0.8}', ?, ?, 0.2)",
                        [run_id, tid, [intent], json.dumps({intent: p}), alignment, 1 - alignment])
    db.write(write)


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    """The workbench test data plus 20 labelled turns (2 annotators on some), a run and its embeddings."""
    from store import importer
    from store.jobfiles import RESULTS, default_jobs_dir

    path = tmp_path / "app.duckdb"
    monkeypatch.setenv(runtime.ENV_DB, str(path))
    db = runtime.get_store(str(path))
    seed(db, tmp_path, users=("ann", "ana"))
    labels.set_overlap(db, "default", 2)
    extra = tmp_path / "extra.jsonl"
    extra.write_text("".join(json.dumps({"id": f"x{i}", "text": f"turn {i} <b>about</b> order {i}",
                                         "response": f"reply {i}"}) + "\n" for i in range(20)), encoding="utf-8")
    assert importer.import_files(db, [extra], labels="ignore").ok
    predictions = {}
    for i in range(20):
        given = INTENTS[i % 5]
        annotations.submit(db, annotation_id=f"a{i}", turn_id=f"x{i}", project="default", annotator="ann",
                           intents=[given], sentiment="neutral", duration_ms=3000)
        if i < 6:   # a second annotator on six turns; disagrees on x1 and x3
            annotations.submit(db, annotation_id=f"b{i}", turn_id=f"x{i}", project="default", annotator="ana",
                               intents=[INTENTS[(i + i % 2) % 5]], sentiment="neutral", duration_ms=6000)
        predicted = INTENTS[(i + (i in (2, 7))) % 5]        # x2 and x7: given != predicted
        predictions[f"x{i}"] = (predicted, 0.93 if predicted != given else 0.8, round(0.04 * i + 0.01, 3))
    add_run(db, "run-a", predictions, "2024-05-02 00:00:00")
    out = default_jobs_dir(str(path)) / RESULTS / "run-a"
    out.mkdir(parents=True)
    vectors = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float16)
    np.savez(out / "embeddings.npz", ids=np.array([f"x{i}" for i in range(20)]), vectors=vectors)
    yield db
    analysis.wait_for_prewarm()
    runtime.close_stores()


@pytest.mark.parametrize("module", PAGES)
def test_each_page_renders_for_an_analyst_and_refuses_an_annotator(app_db, module):
    at = page_as(module, "ana")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    refused = page_as(module, "ann")
    assert not refused.exception and refused.error and "analyst" in refused.error[0].value


@pytest.mark.parametrize("module", PAGES)
def test_a_page_prewarms_the_other_pages_after_drawing_itself(app_db, module, monkeypatch):
    """The background prewarm starts once the page's own views are computed (it would compete with them
    for the CPU), and it leaves the other analyst pages' views cached."""
    from store import current

    def names_cached() -> set:
        return {key[0] for key in current._memo}

    seen_at_prewarm: list[set] = []
    real_prewarm = analysis.prewarm
    monkeypatch.setattr(analysis, "prewarm", lambda db, project: (seen_at_prewarm.append(names_cached()),
                                                                  real_prewarm(db, project)))
    current._memo.clear()
    at = page_as(module, "ana")
    analysis.wait_for_prewarm()
    assert not at.exception, at.exception
    own = {"health": "snapshot", "label_errors": "snapshot", "misalignment": "alignment", "agreement": "agreement"}[module]
    assert len(seen_at_prewarm) == 1 and own in seen_at_prewarm[0], seen_at_prewarm
    assert {"snapshot", "alignment", "entities", "filters", "agreement", "annotators", "queue"} <= names_cached()


def test_pages_are_in_the_navigation_for_analysts_only():
    import ast

    from app_testkit import APP

    # app.py runs the app when imported, so read its page table from the source
    calls = [n for n in ast.walk(ast.parse(open(APP, encoding="utf-8").read()))
             if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PageSpec"]
    mine = {kw.value.value: ast.unparse(c.args[2]) for c in calls for kw in c.keywords
            if kw.arg == "module" and kw.value.value.split(".")[-1] in PAGES}
    assert set(mine) == {f"workbench.views.{m}" for m in PAGES}
    assert set(mine.values()) == {"ANALYSE"}


def test_confusion_cell_to_turn_to_relabel(app_db):
    at = page_as("health", "ana")
    at.selectbox(key="health_cm_given").set_value("greeting")
    at.selectbox(key="health_cm_pred").set_value("cancel_order")
    at.run()
    assert "2 turn(s) labelled 'greeting', predicted 'cancel_order'" in texts(at)   # x2 and x7
    cell = next(d.value for d in at.dataframe if "predicted" in d.value.columns)
    assert set(cell["turn_id"]) == {"x2", "x7"}
    shown = cell["turn_id"].iloc[0]
    assert any(f"turn {shown[1:]} <b>about</b> order {shown[1:]}" in t.value for t in at.text)  # text, unrendered
    at.button(key="health_fix_relabel").click().run()
    assert not at.exception
    now = analysis.current_labels(app_db, "default", [shown])[shown]
    assert now["intents"] == ["cancel_order"] and now["source"] == "adjudicated"
    assert [h["action"] for h in annotations.history(app_db, shown)][-1] == "adjudicate"
    assert f"{shown}: intent greeting -> cancel_order" in texts(at)


def test_selected_cell_reads_a_plotly_click():
    from workbench.components.analysis import selected_cell

    event = {"selection": {"points": [{"x": "b", "y": "a", "customdata": [0, 1]}]}}
    assert selected_cell(event, ["a", "b"]) == ("a", "b")
    assert selected_cell({"selection": {"points": []}}, ["a", "b"]) is None


def test_label_errors_page_lists_disagreements_and_sends_to_review(app_db):
    at = page_as("label_errors", "ana")
    frame = at.dataframe[0].value
    assert {"x2", "x7"} <= set(frame["turn_id"]) and frame["score"].is_monotonic_decreasing
    shown = frame["turn_id"].iloc[0]
    at.button(key="errors_fix_review").click().run()
    queue = analysis.adjudication_queue(app_db, "default")
    assert queue[queue["reason"].str.contains("flagged")]["turn_id"].tolist() == [shown]
    at.button(key="errors_fix_confirm").click().run()
    confirmed = analysis.current_labels(app_db, "default", [shown])[shown]
    assert confirmed["source"] == "adjudicated" and confirmed["intents"] == [frame["given"].iloc[0]]


def test_misalignment_worst_first_filters_and_marks_misaligned(app_db):
    at = page_as("misalignment", "ana")
    worst = at.dataframe[0].value
    assert worst["turn_id"].tolist()[:3] == ["x0", "x1", "x2"]
    at.selectbox(key="mis_intent").set_value("return_item").run()
    assert set(at.dataframe[0].value["intent"]) == {"return_item"}
    first = at.dataframe[0].value["turn_id"].iloc[0]
    at.button(key="mis_fix_relabel").click().run()
    assert analysis.current_labels(app_db, "default", [first])[first]["aligned"] is False
    assert "no embeddings" not in texts(at)        # the run published them: the map is drawn


def tick_queue_row(at, turn_id: str):
    """Tick ``turn_id``'s row in the Agreement page's adjudication queue, as a click on its checkbox does."""
    queue = next(d.value for d in at.dataframe if {"turn_id", "reason"} <= set(d.value.columns))
    row = queue["turn_id"].tolist().index(turn_id)
    at.session_state["adj_queue"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def test_agreement_page_resolves_a_disagreement(app_db):
    at = page_as("agreement", "ana")
    assert not at.exception
    queue = next(d.value for d in at.dataframe if {"turn_id", "reason"} <= set(d.value.columns))
    assert {"x1", "x3"} <= set(queue["turn_id"])
    first = queue["turn_id"].iloc[0]
    tick_queue_row(at, first)
    at.multiselect(key=f"adj_{first}_intents").set_value(["greeting"])
    at.button(key=f"adj_{first}_resolve").click().run()
    assert not at.exception
    now = analysis.current_labels(app_db, "default", [first])[first]
    assert now["intents"] == ["greeting"] and now["source"] == "adjudicated"
    assert first not in set(analysis.adjudication_queue(app_db, "default")["turn_id"])
    assert PASSWORDS  # the analyst signed in with the shared test users
    assert "Tick a row to resolve it (the ticked row has left the table)" in texts(at)
    assert not [b for b in at.button if b.key and b.key.endswith("_resolve")]   # the next row is not ticked


@pytest.mark.slow
def test_out_of_fold_audit_runs_from_the_page(app_db):
    """The audit button trains the packaged encoder's fast heads out-of-fold in a child process; its rows then list."""
    from workbench.components import audit

    at = page_as("label_errors", "ana")
    at.radio(key="errors_source").set_value("audit").run()
    at.button(key="audit_start").click().run()
    deadline = time.time() + 240
    while audit.state(app_db, "default")["state"] == "running" and time.time() < deadline:
        time.sleep(1)
    assert audit.state(app_db, "default")["state"] == "done", audit.state(app_db, "default")
    at.run()
    assert not at.exception and not at.error
    frame = at.dataframe[0].value
    assert len(frame) > 0 and frame["score"].is_monotonic_decreasing
    assert set(frame.columns) >= {"turn_id", "given", "suggested", "score"}
