"""Sign-in, roles and sessions, driven through Streamlit's AppTest (the real app script and pages)."""
from __future__ import annotations

import pytest

from app_testkit import PASSWORDS, REPO, app_test, make_template, open_copy, signed_in, texts
from store import users
from workbench import auth, runtime

ADMIN_PAGE = str(REPO / "workbench" / "views" / "admin_schema.py")
LABEL_PAGE = str(REPO / "workbench" / "views" / "label.py")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("auth-template"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def test_unsigned_visitor_sees_only_the_sign_in_form(app_db):
    at = app_test().run()
    assert not at.exception
    assert at.text_input(key="sign_in_user") is not None
    assert len(at.multiselect) == 0 and len(at.tabs) == 0
    assert "Concord" in texts(at)


@pytest.mark.parametrize("page", [LABEL_PAGE, ADMIN_PAGE])
def test_pages_refuse_unsigned_visitors_on_the_server(app_db, page):
    at = app_test(page).run()
    assert not at.exception
    assert at.text_input(key="sign_in_user") is not None
    assert len(at.multiselect) == 0 and len(at.tabs) == 0 and len(at.dataframe) == 0


def test_annotator_signs_in_and_gets_the_label_page_only(app_db):
    at = signed_in("ann")
    assert not at.exception
    assert at.session_state[auth.SESSION_KEY]["role"] == "annotator"
    assert [m.label for m in at.multiselect] == ["Intents"]
    with pytest.raises(ValueError):
        at.switch_page("views/admin_schema.py")


def test_analyst_can_label_but_not_edit_the_schema(app_db):
    at = signed_in("ana")
    assert at.session_state[auth.SESSION_KEY]["role"] == "analyst"
    at.switch_page("views/label.py").run()            # analysts land on the Pipeline page (test_admin_landing)
    assert [m.label for m in at.multiselect] == ["Intents"]
    with pytest.raises(ValueError):
        at.switch_page("views/admin_schema.py")


def test_admin_reaches_the_schema_page_and_adds_an_intent(app_db):
    at = signed_in("boss")
    at.switch_page("views/admin_schema.py").run()
    assert not at.exception
    assert "Label schema" in texts(at) and "Project: default" in texts(at)
    at.text_input(key="add-name-intent").input("refund_status")
    at.button(key="FormSubmitter:add-intent-Add").click()
    at.run()
    from store import labels

    assert "refund_status" in labels.get_schema(app_db, "default")["intents"]


def test_admin_renames_an_intent_and_history_keeps_it(app_db):
    at = signed_in("boss")
    at.switch_page("views/admin_schema.py").run()
    at.selectbox(key="rename-old-intent").select("greeting")
    at.text_input(key="rename-new-intent").input("hello")
    at.button(key="FormSubmitter:rename-intent-Rename").click()
    at.run()
    from store import labels

    schema = labels.get_schema(app_db, "default")
    assert "hello" in schema["intents"] and "greeting" not in schema["intents"]
    assert labels.rename_map(app_db, "default", "intent") == {"greeting": "hello"}


def test_admin_page_checks_the_role_on_the_server_not_only_in_navigation(app_db):
    at = app_test(ADMIN_PAGE)
    at.session_state[auth.SESSION_KEY] = {"username": "ann", "role": "admin", "signed_in_at": 9e12,
                                          "last_seen": 9e12}
    at.run()
    # The session claims admin, but the database says annotator: the page must believe the database.
    assert "This page is for admin users" in texts(at)
    assert len(at.tabs) == 0


def test_wrong_password_is_refused_and_repeated_failures_are_throttled(app_db, monkeypatch):
    monkeypatch.setattr(auth, "MAX_FAILURES", 2)
    at = app_test().run()
    for _ in range(auth.MAX_FAILURES):
        at.text_input(key="sign_in_user").input("ann")
        at.text_input(key="sign_in_password").input("not-the-password")
        at.button(key="FormSubmitter:sign_in-Sign in").click()
        at.run()
        assert "wrong password" in texts(at)
    at.text_input(key="sign_in_user").input("ann")
    at.text_input(key="sign_in_password").input(PASSWORDS["ann"])
    at.button(key="FormSubmitter:sign_in-Sign in").click()
    at.run()
    assert "Too many failed attempts" in texts(at)
    assert auth.SESSION_KEY not in at.session_state


def test_disabled_user_loses_the_open_session(app_db, monkeypatch):
    monkeypatch.setattr(auth, "RECHECK_S", 0.0)     # re-read the user on every run, not once a second
    at = signed_in("ann")
    assert len(at.multiselect) == 1
    users.set_active(app_db, "ann", False)
    at.run()
    assert auth.SESSION_KEY not in at.session_state
    assert at.text_input(key="sign_in_user") is not None and len(at.multiselect) == 0
    assert "no longer active" in texts(at)


def test_idle_session_expires(app_db):
    at = signed_in("ann")
    at.session_state[auth.SESSION_KEY]["last_seen"] -= runtime.session_idle_seconds() + 5
    at.run()
    assert auth.SESSION_KEY not in at.session_state
    assert "expired" in texts(at) and len(at.multiselect) == 0


def test_sign_out(app_db):
    at = signed_in("ann")
    at.button(key="sign_out").click()
    at.run()
    assert auth.SESSION_KEY not in at.session_state
    assert at.text_input(key="sign_in_user") is not None


def test_admin_merges_intents_into_one(app_db):
    at = signed_in("boss")
    at.switch_page("views/admin_schema.py").run()
    at.multiselect(key="merge-src-intent").set_value(["greeting", "product_question"])
    at.selectbox(key="merge-dst-intent").select("track_order")
    at.button(key="FormSubmitter:merge-intent-Merge").click()
    at.run()
    from store import labels

    schema = labels.get_schema(app_db, "default")
    assert "greeting" not in schema["intents"] and "product_question" not in schema["intents"]
    assert labels.rename_map(app_db, "default", "intent") == {"greeting": "track_order",
                                                              "product_question": "track_order"}
    assert "Merged" in texts(at)
