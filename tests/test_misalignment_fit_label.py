"""Misalignment explorer: the worst-aligned table shows each turn's current response fit, and the fix
buttons suggest "misaligned" only where that changes something (a turn already labelled misaligned used
to offer "Relabel to the suggestion: aligned False -> False" as its primary action)."""
from __future__ import annotations

import test_analysis_pages as pages
from app_testkit import texts
from store import analysis, annotations

app_db = pages.app_db    # the analyst pages' data: 20 labelled turns x0..x19, a run scoring them worst-first


def judge(db, turn_id: str, aligned: bool) -> None:
    intents = analysis.current_labels(db, "default", [turn_id])[turn_id]["intents"]
    annotations.adjudicate(db, annotation_id=f"fit-{turn_id}", turn_id=turn_id, project="default", reviewer="ana",
                           intents=intents, sentiment="neutral", aligned=aligned)


def tick(at, turn_id: str):
    """Tick ``turn_id``'s row in the worst-aligned table, as a click on its checkbox does."""
    worst = at.dataframe[0].value
    at.session_state["mis_worst"] = {"selection": {"rows": [worst["turn_id"].tolist().index(turn_id)],
                                                   "columns": [], "cells": []}}
    return at.run()


def test_worst_aligned_lists_the_current_fit_label(app_db):
    judge(app_db, "x0", False)
    judge(app_db, "x1", True)
    frame = analysis.worst_aligned(app_db, "default")
    fits = dict(zip(frame["turn_id"], frame["fit_label"]))
    assert (fits["x0"], fits["x1"], fits["x2"]) == ("misaligned", "aligned", "not judged")
    shown = pages.page_as("misalignment", "ana").dataframe[0].value
    assert dict(zip(shown["turn_id"], shown["fit_label"]))["x0"] == "misaligned"


def test_a_turn_already_misaligned_offers_no_relabel(app_db):
    judge(app_db, "x0", False)
    at = tick(pages.page_as("misalignment", "ana"), "x0")
    assert not at.exception
    assert "Relabel to the suggestion: response fit: misaligned -> misaligned" not in texts(at)
    assert at.button(key="mis_fix_relabel").disabled
    at.button(key="mis_fix_confirm").click().run()
    now = analysis.current_labels(app_db, "default", ["x0"])["x0"]
    assert now["aligned"] is False and now["source"] == "adjudicated"


def test_a_turn_judged_aligned_or_not_judged_is_offered_misaligned(app_db):
    judge(app_db, "x1", True)
    at = tick(pages.page_as("misalignment", "ana"), "x1")
    assert "Relabel to the suggestion: response fit: aligned -> misaligned" in texts(at)
    assert not at.button(key="mis_fix_relabel").disabled
    at.button(key="mis_fix_relabel").click().run()
    assert analysis.current_labels(app_db, "default", ["x1"])["x1"]["aligned"] is False
    at = tick(at, "x2")
    assert "Relabel to the suggestion: response fit: not judged -> misaligned" in texts(at)
    assert not at.button(key="mis_fix_relabel").disabled
