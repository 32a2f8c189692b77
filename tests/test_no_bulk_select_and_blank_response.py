"""Two small slips closed: the admin's "Fold these" box offers no "Select all" (folding every label into
one is a schema-wide merge no one means), and a blank assistant response reads as none on the label page
(the form already asks no fit for it, so an empty bubble asked a question the form does not)."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app_testkit import make_template, open_copy, signed_in
from workbench import runtime


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    template = make_template(tmp_path / "tpl")
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def test_the_fold_box_offers_no_select_all(app_db):
    at = signed_in("boss").switch_page("views/admin_schema.py").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="merge-src-intent").proto.select_all == 0


def _render(response):
    from workbench.components import turn_view

    turn_view.render_response(response)


@pytest.mark.parametrize("response, bubble", [("   ", False), ("", False), (None, False), ("Done.", True)])
def test_a_blank_response_reads_as_none(response, bubble):
    at = AppTest.from_function(_render, args=(response,)).run()
    shown = " ".join(h.proto.body for h in at.get("html"))
    assert ("No assistant response recorded" in shown) is (not bubble)
    assert ('class="cc-msg' in shown) is bubble
