"""What the Model health page makes the browser load. Its time in a browser is mostly JavaScript the page's
elements pull in (measured: Streamlit's Plotly bundle, about 0.75 s of CPU, and the syntax-highlighter
bundle, about 0.25 s, that any ``st.code`` element loads), not the server or the bytes it sends. The page
opens with a confusion cell's turn shown, so that turn must not be drawn as a code block."""
from __future__ import annotations

import pytest
import test_analysis_pages
from app_testkit import texts
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db      # the analyst pages' test data (20 labelled turns, a run), as a fixture


@pytest.mark.usefixtures("app_db")
def test_the_opening_cell_turn_is_plain_text_not_a_code_block():
    at = page_as("health", "ana")
    assert not at.exception, at.exception
    assert "turn(s) labelled" in texts(at)                          # a cell is open on first view
    shown = [t.value for t in at.text]
    assert any(t.startswith("turn ") and "<b>about</b> order" in t for t in shown)     # verbatim, unrendered
    assert not at.code, [c.value for c in at.code]


@pytest.mark.usefixtures("app_db")
def test_the_page_sends_its_five_small_figures_only():
    """Five charts (intent and sentiment confusion, entity F1, learning curve, calibration), each a few KB:
    the page's cost is not in the figures it sends."""
    at = page_as("health", "ana")
    figures = [e.proto.spec for e in at.get("plotly_chart")]
    assert len(figures) == 5
    assert all(len(spec) < 20_000 for spec in figures), [len(spec) for spec in figures]
