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


def fill_add_form(at, name: str, password: str):
    at.text_input(key="add_user_name").input(name)
    at.text_input(key="add_user_password").input(password)
    at.button(key="FormSubmitter:add_user-Save").click()
    return at.run()


def test_the_add_form_does_not_tell_the_browser_to_clear_it_on_submit(app_db):
    """Streamlit clears a clear_on_submit form in the browser, which AppTest does not emulate: the flag
    the page sends is what decides whether a refused name and password survive."""
    add_form = next(f for f in users_page().get("form") if f.proto.form.form_id == "add_user")
    assert not add_form.proto.form.clear_on_submit


def test_a_refused_add_keeps_what_was_typed(app_db):
    at = fill_add_form(users_page(), "new person", "long enough password")
    assert not at.exception
    assert "username must be" in texts(at)
    assert at.text_input(key="add_user_name").value == "new person"
    assert at.text_input(key="add_user_password").value == "long enough password"
    at = fill_add_form(at, "newperson", "short")
    assert "at least" in texts(at)
    assert (at.text_input(key="add_user_name").value, at.text_input(key="add_user_password").value) == ("newperson", "short")


def test_a_saved_add_empties_the_form(app_db):
    at = fill_add_form(users_page(), "newperson", "long enough password")
    assert not at.exception
    assert "Saved 'newperson'" in texts(at)
    assert users.verify_password(app_db, "newperson", "long enough password") == "annotator"
    assert (at.text_input(key="add_user_name").value, at.text_input(key="add_user_password").value) == ("", "")
