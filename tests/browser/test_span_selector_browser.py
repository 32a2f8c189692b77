"""The span selector alone in a real browser: a two-line Streamlit app mounts it on a free port and
prints the spans Python received, and Debian's chromium drives it with a real mouse and keyboard.

What it guards: a real double-click selects a word (the DOM must not be rebuilt under the mouse
between the two clicks, or the browser fires no dblclick).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import serving
from serving import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
TEXTS = {
    "words": "book a flight to Chengdu tomorrow",
    "zh": "我想订明天从成都到北京的机票",
    "emoji": "👩\u200d👩\u200d👧 met 🇫🇷 cafe\u0301 friends",
    "long": ("word " * 1200).strip(),
}
ENTITY_TYPES = ["city", "person", "thing"]
APP = '''
import json
import streamlit as st
from workbench.components.span_selector import span_selector

TEXTS = json.loads({texts!r})
case = st.query_params.get("case", "words")
span_selector(TEXTS[case], form_id="f-" + case, spans=[], entity_types={types!r}, key="span-" + case)
state = st.session_state.get("span-" + case) or {{}}
st.code("PY_SPANS=" + json.dumps((state.get("spans") or {{}}).get("spans", [])))
st.text("ASSISTANT RESPONSE BELOW THE TURN")
'''


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    require_chromium()
    workdir = tmp_path_factory.mktemp("span-selector-app")
    (workdir / "app.py").write_text(APP.format(texts=json.dumps(TEXTS), types=ENTITY_TYPES), encoding="utf-8")
    port = serving.free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    with open(workdir / "serve.log", "w") as log:
        server = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            serving.wait_for_health(port, server)
            yield f"http://localhost:{port}"
        finally:
            serving.stop(server)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_case(app_url, browser):
    """``open_case(name)`` -> a page showing TEXTS[name] in the selector, ready for keys."""
    from playwright.sync_api import expect

    pages = []

    def open_(case: str):
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        pages.append(page)
        page.goto(f"{app_url}/?case={case}")
        expect(page.locator(".cc-text")).to_have_count(1, timeout=30_000)
        expect(page.get_by_text("PY_SPANS=")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(300)
        return page

    yield open_
    for page in pages:
        page.close()


def python_spans(page, expected_count: int) -> list[dict]:
    """The spans Python received in its last rerun, once there are ``expected_count`` of them."""
    from playwright.sync_api import expect

    code = page.locator("code").filter(has_text="PY_SPANS=")
    expect(code).to_have_count(1, timeout=10_000)
    pattern = r"PY_SPANS=\[\]" if expected_count == 0 else r"PY_SPANS=\[\{.*\}\]"
    expect(code).to_have_text(re.compile(pattern), timeout=10_000)
    spans = json.loads(code.inner_text().split("PY_SPANS=", 1)[1])
    assert len(spans) == expected_count, spans
    return spans


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(60)


def center_of(page, index: int) -> tuple[float, float]:
    box = page.locator(f".cc-ch[data-i='{index}']").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


# -- mouse ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case, inside, word", [("words", 19, "Chengdu")])
def test_a_real_double_click_selects_the_word_under_the_mouse(open_case, case, inside, word):
    page = open_case(case)
    page.mouse.dblclick(*center_of(page, inside))
    page.wait_for_timeout(200)
    press(page, "1")
    [span] = python_spans(page, 1)
    text = TEXTS[case]
    assert text[span["start"]:span["end"]] == word and span["label"] == "city"
