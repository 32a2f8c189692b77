"""The span selector alone in a real browser: a two-line Streamlit app mounts it on a free port and
prints the spans Python received, and Debian's chromium drives it with a real mouse and keyboard.

What it guards: a real double-click selects a word (the DOM must not be rebuilt under the mouse
between the two clicks, or the browser fires no dblclick); the caret moves by visible character
(grapheme cluster) and by dictionary word in Chinese; a long turn scrolls inside its own box instead
of pushing the rest of the page away. Offsets Python receives must be code points that cut no cluster.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import regex
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
if case == "rekey":   # as the Label page: a choice key gives the box a new widget key, drawn late
    import time
    def applied():
        log = ((st.session_state.get("span-rekey") or {{}}).get("actions") or {{}}).get("log") or []
        st.session_state["rev"] = max([entry[0] for entry in log], default=0)
    rev = st.session_state.setdefault("rev", 0)
    span_selector(TEXTS["words"], form_id="f-rekey", spans=[], entity_types={types!r}, key="span-rekey",
                  sentiment_keys={{"w": "neutral"}}, focus_targets={{"/": f"st-key-box-{{rev}}"}},
                  applied_seq=rev, on_actions=applied)
    time.sleep(2.5 if rev else 0)
    st.text_input("box", key=f"box-{{rev}}")
else:
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
    spans = ", ".join([r"\{[^}]*\}"] * expected_count)
    pattern = r"PY_SPANS=\[" + spans + r"\]"
    expect(code).to_have_text(re.compile(pattern), timeout=10_000)
    spans = json.loads(code.inner_text().split("PY_SPANS=", 1)[1])
    assert len(spans) == expected_count, spans
    return spans


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(60)


def grapheme_boundaries(text: str) -> set[int]:
    """Code-point offsets where a user-perceived character starts or the text ends (regex's \\X)."""
    return {m.start() for m in regex.finditer(r"\X", text)} | {len(text)}


def center_of(page, index: int) -> tuple[float, float]:
    box = page.locator(f".cc-ch[data-i='{index}']").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


# -- mouse ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case, inside, word", [("words", 19, "Chengdu"), ("zh", 7, "成都")])
def test_a_real_double_click_selects_the_word_under_the_mouse(open_case, case, inside, word):
    page = open_case(case)
    page.mouse.dblclick(*center_of(page, inside))
    page.wait_for_timeout(200)
    press(page, "1")
    [span] = python_spans(page, 1)
    text = TEXTS[case]
    assert text[span["start"]:span["end"]] == word and span["label"] == "city"


def test_a_mouse_drag_snaps_to_whole_characters(open_case):
    """Pressing inside the family emoji and dragging over "met": the emoji is taken whole."""
    page = open_case("emoji")
    family = page.locator(".cc-ch[data-i='0']").bounding_box()
    end_x, end_y = center_of(page, TEXTS["emoji"].index("met") + 2)
    page.mouse.move(family["x"] + family["width"] * 0.45, family["y"] + family["height"] / 2)
    page.mouse.down()
    page.mouse.move(end_x + 3, end_y, steps=4)
    page.mouse.up()
    press(page, "3")
    [span] = python_spans(page, 1)
    text = TEXTS["emoji"]
    assert {span["start"], span["end"]} <= grapheme_boundaries(text), span
    assert text[span["start"]:span["end"]] in ("👩\u200d👩\u200d👧 met", " met")


# -- keyboard ---------------------------------------------------------------------------------------
def test_shift_arrow_selects_whole_grapheme_clusters_as_code_points(open_case):
    page = open_case("emoji")
    text = TEXTS["emoji"]
    press(page, "Home", "Shift+ArrowRight", "1")
    [family] = python_spans(page, 1)
    assert (family["start"], family["end"]) == (0, 5) and text[0:5] == "👩\u200d👩\u200d👧"
    flag = text.index("🇫🇷")
    press(page, *["ArrowRight"] * 5, "Shift+ArrowRight", "2")                 # past " met ", then the flag
    spans = python_spans(page, 2)
    assert {"start": flag, "end": flag + 2, "label": "person"} in spans
    accent = text.index("cafe\u0301") + 3
    press(page, "ArrowRight", "ArrowRight", "ArrowRight", "ArrowRight", "Shift+ArrowRight", "3")
    spans = python_spans(page, 3)
    assert {"start": accent, "end": accent + 2, "label": "thing"} in spans        # e + combining acute


def test_ctrl_shift_arrow_selects_a_chinese_word_not_the_clause(open_case):
    page = open_case("zh")
    text = TEXTS["zh"]
    press(page, "Home", "Control+Shift+ArrowRight", "1")
    [first] = python_spans(page, 1)
    assert text[first["start"]:first["end"]] == "我想"
    press(page, "Control+ArrowRight", "Control+ArrowRight", "Control+ArrowRight",
          "Control+Shift+ArrowRight", "2")                                     # 订 明天 从 | 成都
    spans = python_spans(page, 2)
    assert {"start": 6, "end": 8, "label": "person"} in spans and text[6:8] == "成都"
    press(page, "End", "Control+Shift+ArrowLeft", "3")
    spans = python_spans(page, 3)
    assert {"start": len(text) - 2, "end": len(text), "label": "thing"} in spans   # 机票


# -- long turns ------------------------------------------------------------------------------------
def test_a_long_turn_scrolls_in_its_own_box_and_keys_do_not_rebuild_it(open_case):
    page = open_case("long")
    box = page.locator(".cc-text")
    sizes = box.evaluate("b => ({client: b.clientHeight, scroll: b.scrollHeight})")
    assert sizes["client"] < sizes["scroll"], "the text box has no maximum height"
    response = page.get_by_text("ASSISTANT RESPONSE BELOW THE TURN").bounding_box()
    assert response["y"] + response["height"] < 900, "the response is pushed off screen"
    box.evaluate("b => { window.__first = b.querySelector('.cc-ch'); }")    # the component may sit in a shadow root
    press(page, "End")
    caret_in_view = box.evaluate("""b => {
        const caret = b.querySelector('.cc-caret').getBoundingClientRect(), r = b.getBoundingClientRect();
        return b.scrollTop > 0 && caret.top >= r.top - 1 && caret.bottom <= r.bottom + 1; }""")
    assert caret_in_view, "End left the caret scrolled out of the box"
    press(page, "Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowLeft")
    assert page.evaluate("() => window.__first.isConnected"), "a key rebuilt all the characters"
    press(page, "3")
    [span] = python_spans(page, 1)
    assert TEXTS["long"][span["start"]:span["end"]] == "word"


@pytest.mark.parametrize("segmenter", ["Intl.Segmenter", "fallback"])
def test_the_text_model_counts_code_points_with_and_without_intl_segmenter(browser, segmenter):
    """text.js alone: cluster and word moves in code points, also where Intl.Segmenter is missing."""
    page = browser.new_page()
    if segmenter == "fallback":
        page.add_init_script("delete Intl.Segmenter;")
    page.goto("about:blank")
    page.add_script_tag(content=(REPO / "workbench/components/span_selector/text.js").read_text(encoding="utf-8"))
    text = TEXTS["emoji"]
    moves = page.evaluate("""([text, inMet]) => {
        const m = new TextModel(text), steps = [];
        for (let i = 0; i < m.length; i = m.nextChar(i)) steps.push(i);
        return {steps, back: m.prevChar(m.length), word: m.nextWord(0), wordBack: m.prevWord(m.length),
                dbl: m.wordAt(inMet), zh: m.nextWord.call(new TextModel("订单12345 退款"), 0),
                segmenter: typeof Intl.Segmenter};
    }""", [text, text.index("met") + 1])                              # a code point in "met"
    page.close()
    assert moves["steps"] == sorted(grapheme_boundaries(text) - {len(text)})
    assert moves["back"] == len(text) - 1
    assert text[moves["word"] - 3:moves["word"]] == "met"                   # the emoji is no word
    assert text[moves["wordBack"]:] == "friends"
    assert text[slice(*moves["dbl"])] == "met"
    assert moves["zh"] == (1 if segmenter == "fallback" else 2)            # 订 alone, or ICU's 订单
    assert moves["segmenter"] == ("undefined" if segmenter == "fallback" else "function")


# -- a search key while a rerun replaces the box ------------------------------------------------------
def test_a_focus_key_waits_for_the_box_a_rerun_is_still_drawing(open_case):
    """A choice key re-keys the box "/" focuses; the rerun draws the selector (with every key applied)
    before the new box. "/" in that gap once found no box with the new key, so what was typed next
    went to the page as shortcuts (in CI: a C opened the corrected response and took the rest)."""
    from playwright.sync_api import expect

    page = open_case("rekey")
    press(page, "w")
    page.wait_for_timeout(1200)                            # the selector is redrawn; box-1 comes at 2.5 s
    expect(page.locator(".st-key-box-0 input")).to_have_count(1)
    page.keyboard.press("/")
    page.keyboard.type("hello", delay=30)
    expect(page.locator(".st-key-box-1 input")).to_have_value("hello", timeout=10_000)


# -- whitespace at a selection's edges ---------------------------------------------------------------
def test_a_selection_is_trimmed_of_edge_whitespace_and_blank_assigns_nothing(open_case):
    """" $31" (17..21) and "😭 " were stored with their space, which the chips hid. Trimmed in code
    points and by whole clusters when a type is assigned, as Prodigy and Label Studio do."""
    page = open_case("words")
    text = TEXTS["words"]
    at = text.index(" Chengdu ")
    press(page, "Home", *["ArrowRight"] * at, *["Shift+ArrowRight"] * len(" Chengdu "), "1")
    [city] = python_spans(page, 1)
    assert (city["start"], city["end"]) == (at + 1, at + 8) and text[at + 1:at + 8] == "Chengdu"
    press(page, "Home", *["ArrowRight"] * 4, "Shift+ArrowRight", "2")     # the space after "book" alone
    page.wait_for_timeout(500)
    assert python_spans(page, 1) == [city]
    assert page.locator(".cc-chip").count() == 1

    page = open_case("emoji")
    text = TEXTS["emoji"]
    press(page, "Home", "Shift+ArrowRight", "Shift+ArrowRight", "3")      # the family emoji and its space
    [family] = python_spans(page, 1)
    assert (family["start"], family["end"]) == (0, 5) and text[5] == " "
