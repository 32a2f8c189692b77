"""Where each role lands after signing in. The Label page claims (leases) a turn as soon as it is
drawn, so an admin or analyst who landed there took a turn away from the annotators ("Left for me"
dropped for them) just by signing in. Team leads land on the Pipeline page, which claims nothing;
annotators still land on the Label page, and anyone who may label still opens it from the menu.
"""
from __future__ import annotations

import dataclasses

import pytest

from app_testkit import make_template, open_copy, signed_in, texts
from store import queue
from workbench import runtime


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("admin-landing"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def opened_at(at, url_path: str, monkeypatch):
    """Run ``at`` as a browser does when the address bar says ``/<url_path>`` (see test_app_urls)."""
    from streamlit.testing.v1 import local_script_runner

    real = local_script_runner.RerunData

    def by_name(**kwargs):
        return dataclasses.replace(real(**kwargs), page_script_hash="", page_name=url_path)

    with monkeypatch.context() as patch:
        patch.setattr(local_script_runner, "RerunData", by_name)
        at._page_hash = ""
        return at.run()


def _leases(db) -> list[str]:
    return [lease["annotator"] for lease in queue.active_leases(db, "default")]


@pytest.mark.parametrize("name", ["boss", "ana"])
def test_team_leads_land_on_the_pipeline_page_and_claim_no_turn(app_db, monkeypatch, name):
    at = signed_in(name)
    assert not at.exception, at.exception
    opened_at(at, "", monkeypatch)
    assert not at.exception, at.exception
    assert len(at.multiselect) == 0                   # no label form
    assert "Retrain now" in [b.label for b in at.button]
    assert _leases(app_db) == []
    assert "Left for me" not in texts(at)


def test_a_team_lead_still_labels_from_the_menu(app_db, monkeypatch):
    at = signed_in("boss")
    opened_at(at, "label", monkeypatch)
    assert [m.label for m in at.multiselect] == ["Intents"]
    assert _leases(app_db) == ["boss"]


def test_annotators_still_land_on_the_label_page(app_db, monkeypatch):
    at = signed_in("ann")
    opened_at(at, "", monkeypatch)
    assert [m.label for m in at.multiselect] == ["Intents"]
    assert _leases(app_db) == ["ann"]


def test_a_refused_page_links_to_the_role_s_home(app_db, monkeypatch):
    at = signed_in("ana")
    opened_at(at, "users", monkeypatch)
    assert "This page is for admins" in texts(at)
    assert [link.proto.label for link in at.get("page_link")] == ["Go to the Pipeline page"]
    assert _leases(app_db) == []
