"""Page URLs as a browser opens them: /label is the Label page (not "Page not found"), and a page the
role may not use explains who it is for instead of Streamlit's not-found dialog.

A browser that opens /label sends the path as the rerun's ``page_name`` (no page hash); AppTest sends
only hashes, so ``opened_at`` makes its runs carry the name the way the browser does, and every
not-found notice Streamlit sends is recorded. (The page modules live in ``workbench/views``, not
``pages/``: Streamlit treats a ``pages/`` folder next to app.py as legacy pages and, until the first
script run has called ``st.navigation``, served a deep link such as /export as a blank module page.)
"""
from __future__ import annotations

import dataclasses

import pytest

from app_testkit import make_template, open_copy, signed_in, texts
from workbench import runtime


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("urls-template"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


@pytest.fixture
def not_found(monkeypatch) -> list[str]:
    """Every "page not found" notice Streamlit's navigation sends to the browser."""
    from streamlit.commands import navigation

    sent: list[str] = []
    original = navigation.send_page_not_found
    monkeypatch.setattr(navigation, "send_page_not_found", lambda ctx: (sent.append("not found"), original(ctx)))
    return sent


def opened_at(at, url_path: str, monkeypatch):
    """Run ``at`` as a browser does when the address bar says ``/<url_path>``."""
    from streamlit.testing.v1 import local_script_runner

    real = local_script_runner.RerunData

    def by_name(**kwargs):
        return dataclasses.replace(real(**kwargs), page_script_hash="", page_name=url_path)

    with monkeypatch.context() as patch:
        patch.setattr(local_script_runner, "RerunData", by_name)
        at._page_hash = ""
        return at.run()


@pytest.mark.parametrize("name", ["ann", "ana", "boss"])
def test_slash_label_opens_the_label_page_for_every_role(app_db, not_found, monkeypatch, name):
    at = signed_in(name)
    not_found.clear()
    opened_at(at, "label", monkeypatch)
    assert not at.exception, at.exception
    assert not_found == []
    assert [m.label for m in at.multiselect] == ["Intents"]


def test_the_app_root_still_opens_the_label_page(app_db, not_found, monkeypatch):
    at = signed_in("ann")
    opened_at(at, "", monkeypatch)
    assert not at.exception and not_found == []
    assert [m.label for m in at.multiselect] == ["Intents"]


@pytest.mark.parametrize("name, url_path, audience", [
    ("ann", "export", "analysts and admins"),
    ("ann", "agreement", "analysts and admins"),
    ("ana", "users", "admins"),
])
def test_a_page_of_another_role_says_who_it_is_for(app_db, not_found, monkeypatch, name, url_path, audience):
    at = signed_in(name)
    not_found.clear()
    opened_at(at, url_path, monkeypatch)
    assert not at.exception and not_found == []
    assert f"This page is for {audience}" in texts(at)
    assert len(at.multiselect) == 0 and len(at.dataframe) == 0 and len(at.selectbox) == 0


def test_an_unknown_address_is_still_not_found(app_db, not_found, monkeypatch):
    at = signed_in("ann")
    not_found.clear()
    opened_at(at, "no-such-page", monkeypatch)
    assert not_found == ["not found"]
