"""Annotators are not shown an operator command for a turn the encoder cannot read.

"…no suggestion pre-filled. concord serve --encoder multilingual reads it." told annotators to do
something only an admin can; they now read only that the model cannot read the turn, so nothing
is pre-filled, and admins keep the command.
"""
from __future__ import annotations

import pytest

from app_testkit import TURNS, add_model_suggestion, make_template, open_copy, signed_in, texts
from workbench import runtime
from workbench.views import label as label_page


@pytest.fixture
def unreadable_db(tmp_path, monkeypatch):
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-zh"], users=("ann", "boss"))
    db = open_copy(template, tmp_path, monkeypatch)
    add_model_suggestion(db, "t-zh", intents=["greeting"], probs={"greeting": 0.9}, encoder_reads=False)
    yield db
    runtime.close_stores()


def test_an_annotator_reads_why_nothing_is_prefilled_without_the_command(unreadable_db):
    page = texts(signed_in("ann"))
    assert "The model cannot read this turn, so nothing is pre-filled." in page
    assert "concord serve" not in page and "--encoder" not in page


def test_an_admin_still_gets_the_command(unreadable_db):
    page = texts(signed_in("boss").switch_page("views/label.py").run())    # admins land on Pipeline
    assert label_page.UNREADABLE_ADMIN_NOTE in page and "concord serve --encoder multilingual" in page
