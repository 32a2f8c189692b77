"""Admin "Users" page, "Change a user": the form starts from the picked user's stored role and status,
so pressing Apply without touching it changes nothing (no silent demotion, no re-enabling)."""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, signed_in, texts
from store import users
from workbench import runtime


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("users-template"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def users_page(name: str = "boss"):
    at = signed_in(name)
    return at.switch_page("views/admin_users.py").run()


def pick(at, username: str):
    next(s for s in at.selectbox if s.label == "User").set_value(username)
    return at.run()


def edit_form(at):
    """The "Change a user" widgets (the "Add" form has a Role select box too: the edit one comes last)."""
    return [s for s in at.selectbox if s.label == "Role"][-1], next(t for t in at.toggle if t.label == "May sign in")


def apply(at):
    at.button(key="FormSubmitter:edit_user-Apply").click()
    return at.run()


def stored(db, name: str) -> tuple[str, bool]:
    row = next(u for u in users.list_users(db) if u["username"] == name)
    return row["role"], bool(row["active"])


def test_apply_without_changes_keeps_an_analyst_an_enabled_analyst(app_db):
    at = pick(users_page(), "ana")
    role, active = edit_form(at)
    assert (role.value, active.value) == ("analyst", True)
    apply(at)
    assert not at.exception
    assert stored(app_db, "ana") == ("analyst", True)
    assert "nothing to change" in texts(at)


def test_a_disabled_user_shows_as_disabled_and_stays_so(app_db):
    users.set_active(app_db, "ann", False)
    at = pick(users_page(), "ann")
    role, active = edit_form(at)
    assert (role.value, active.value) == ("annotator", False)
    apply(at)
    assert stored(app_db, "ann") == ("annotator", False)


def test_switching_users_shows_each_ones_values_and_apply_changes_only_what_changed(app_db):
    users.set_active(app_db, "ann", False)
    at = pick(users_page(), "ann")
    edit_form(at)[0].set_value("analyst")             # picked, not applied: must not leak to the next user
    at = pick(at, "ana")
    assert [w.value for w in edit_form(at)] == ["analyst", True]
    edit_form(at)[0].set_value("admin")
    apply(at)
    assert stored(app_db, "ana") == ("admin", True) and stored(app_db, "ann") == ("annotator", False)
    assert "role analyst -> admin" in texts(at)
    at = pick(at, "ann")
    assert [w.value for w in edit_form(at)] == ["annotator", False]
    edit_form(at)[1].set_value(True)
    apply(at)
    assert stored(app_db, "ann") == ("annotator", True)
