"""The label page's sidebar in its default width: progress figures and "My recent labels" legible.

Three st.metric side by side cut their names to "Min…", "Left…", "Lab…"; each figure now has a line
of its own. A recent label took three to five wrapped lines plus a button; an entry is now two lines
beside a small Edit, and the turn open in the form is marked in its text (and highlighted), where
only its greyed Edit button set it apart.
"""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, open_label_form, signed_in, submit_label
from workbench import runtime
from workbench.components import recent_labels


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("progress-panel"), users=("ann",))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def test_each_progress_figure_has_a_line_of_its_own(app_db):
    at = signed_in("ann")
    panel = next(e for e in at.sidebar.expander if e.label == "Progress")
    assert len(panel.columns) == 0                    # no narrow columns to cut the names
    assert [(m.label, m.value) for m in panel.metric] == [("Mine today", "0"), ("Left for me", "5"),
                                                          ("Labelled", "0")]


def test_recent_labels_are_two_lines_each_and_the_open_turn_is_marked(app_db):
    at = signed_in("ann")
    first = submit_label(at, ["track_order"])
    submit_label(at, ["greeting"])
    at.session_state[recent_labels.RECENT_KEY] = True
    at.run()
    rows = [t.value for t in at.sidebar.text if " · " in t.value]
    assert len(rows) == 2 and all(row.count("\n") == 1 for row in rows)
    assert not any(row.startswith(recent_labels.OPEN_MARK) for row in rows)
    at.button(key=recent_labels.edit_button_key(first.form_id)).click()
    at.run()
    assert open_label_form(at).turn_id == first.turn_id
    rows = [t.value for t in at.sidebar.text if " · " in t.value]
    marked = [row for row in rows if row.startswith(recent_labels.OPEN_MARK)]
    assert marked == [recent_labels.OPEN_MARK + "just now · track_order\n" + recent_labels.snippet(first.turn["text"])]
    open_button = at.button(key=recent_labels.edit_button_key(first.form_id))
    assert open_button.disabled and open_button.label == "Editing"
    assert [b.label for b in at.sidebar.button if (b.key or "").startswith("label-recent-edit:")] == ["Edit", "Editing"]
