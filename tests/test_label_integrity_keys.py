"""Digit keys mean the same intent in every session and for every annotator.

They were handed to the project's most used intents, recomputed in each new session: after a
reload, or for a colleague, "1" meant another intent. They now follow the schema's order, which
only the admin changes.
"""
from __future__ import annotations

from app_testkit import SCHEMA_YAML, make_template, open_copy, signed_in, texts
from store import annotations
from workbench import runtime
from workbench.views import label as label_page

MANY = [f"intent_{i:02d}" for i in range(14)]


def _digit_options(at):
    box = at.multiselect(key=at.session_state[label_page.FORM_KEY].key("intents"))
    return box.options[:10]


def test_keys_follow_the_schema_order_across_sessions_and_annotators(tmp_path, monkeypatch):
    monkeypatch.setattr("app_testkit.SCHEMA_YAML", SCHEMA_YAML.replace(
        "intents: [track_order, return_item, greeting, cancel_order, product_question]", f"intents: {MANY}"))
    template = make_template(tmp_path / "tpl", users=("ann", "ana"), with_suggestions=False)
    db = open_copy(template, tmp_path, monkeypatch)
    expected = [f"{k} · {name}" for k, name in zip("1234567890", MANY)]
    try:
        first = signed_in("ann")
        assert _digit_options(first) == expected
        # Labels given in between (intent_13 becomes the most used) do not move anyone's keys.
        for turn_id in ("t-zh", "t-en", "t-emoji"):
            annotations.adjudicate(db, annotation_id=f"adj-{turn_id}", turn_id=turn_id, project="default",
                                   reviewer="rev", intents=["intent_13", "intent_12"])
        reloaded, colleague = signed_in("ann"), signed_in("ana").switch_page("views/label.py").run()
        assert _digit_options(reloaded) == expected
        assert _digit_options(colleague) == expected
        assert "<kbd>1</kbd></div><div class='cc-v'>intent_00</div>" in texts(colleague)   # the key help too
    finally:
        runtime.close_stores()
