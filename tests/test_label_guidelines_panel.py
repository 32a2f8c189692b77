"""The guidelines and the intents' descriptions sit next to the label form, and ? opens them.

They were a collapsed sidebar section under Progress and a long key list, with no key, and the
intent descriptions (stored with the schema) showed on the admin's Schema page only.
"""
from __future__ import annotations

import html
import re

from app_testkit import TURNS, make_template, open_copy, signed_in
from store import labels
from workbench import runtime
from workbench.components import shortcuts

LABEL = "Guidelines and intent descriptions  ·  ?"
DESCRIPTION = "The user asks where a parcel is. <b>not html</b>"


def test_the_form_side_shows_guidelines_and_intent_descriptions(tmp_path, monkeypatch):
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-en"], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    labels.add_label(db, "default", "intent", "track_order", description=DESCRIPTION)
    try:
        at = signed_in("ann")
        assert not at.exception, at.exception
        guide = next(e for e in at.main.expander if e.label == LABEL)
        assert "Label the **user** turn." in [m.value for m in guide.markdown][0]
        body = next(e.proto.body for e in guide.get("html") if "track_order" in e.proto.body)
        assert "<b>not html</b>" not in body and "&lt;b&gt;not html&lt;/b&gt;" in body, "descriptions are escaped"
        lines = [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in body.split("</div><div>")]
        assert [line.split(":")[0] for line in lines] == labels.get_schema(db)["intents"]
        assert f"track_order: {DESCRIPTION}" in lines and "greeting: " in lines
    finally:
        runtime.close_stores()


def _question_mark_script(db_path: str):
    """Runs inside an AppTest session: "?" arrives twice through the span selector's key log."""
    import streamlit as st

    from workbench import runtime
    from workbench.auth import User
    from workbench.views import label as page

    if "result" in st.session_state:
        return
    db = runtime.get_store(db_path)
    user = User("ann", "annotator")
    form = page.claim_and_open(db, user, "default")
    opened, log = [], []
    for seq in (1, 2):
        log.append([seq, "guidelines", None])
        st.session_state[form.key("span")] = {"actions": {"log": list(log)}}
        page.on_keys(db, user, "default", form.form_id)
        opened.append(st.session_state.get(page.GUIDE_KEY))
    st.session_state["result"] = opened


def test_the_question_mark_key_opens_and_closes_the_guidelines(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    assert shortcuts.command_keys()[shortcuts.GUIDELINES] == "guidelines"
    assert (shortcuts.GUIDELINES, "show / hide the guidelines and what each intent means") in \
        shortcuts.shortcut_rows(["negative", "neutral", "positive"])
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-en"], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    try:
        at = AppTest.from_function(_question_mark_script, args=(str(db.path),), default_timeout=30).run()
        assert not at.exception, at.exception
        assert at.session_state["result"] == [True, False]
    finally:
        runtime.close_stores()
