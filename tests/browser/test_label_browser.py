"""The label page in a real browser: Debian's chromium (headless, via Playwright) against `concord serve`.

Three turns are labelled with the keyboard only (sign-in aside), one entity span on a Chinese turn is
selected with the mouse, and the stored offsets must be the expected code points. On the way: a
reload keeps the session and the turn, U undoes a submit, S skips. A submit needs an intent, a
sentiment (Q/W/E: the schema's sentiments in order) and, as every turn here shows a response, its fit
(G/M); digit keys are the schema's intents in schema order. A turn whose text
is an injection attempt must render as plain text and make no request: a sentinel HTTP server on a
local port counts every request it gets. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import serving
from serving import CHROMIUM, CHROMIUM_ARGS, Sentinel, require_chromium, screenshot, stop

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "keyboard-only-1"
ZH_TEXT = "退款 🙂 订单12345"
EMOJI_TEXT = "😤😤 order 777 never came"


def xss_text(port: int) -> str:
    return (f"<script>window.__pwned=1</script> <img src=x onerror=\"window.__pwned=2\"> "
            f"![x](http://127.0.0.1:{port}/x.png) where is my order")


def build_database(path: Path, tmp: Path, sentinel_port: int) -> None:
    """The sample data plus three known turns, ranked first as a model's queue ranking would."""
    from store import Store, importer, labels, queue, users

    extra = [
        {"id": "b-zh", "conversation_id": "b1", "turn_index": 0, "context": [], "text": ZH_TEXT,
         "response": "好的，已为您处理订单12345的退款。"},
        {"id": "b-xss", "conversation_id": "b2", "turn_index": 2,
         "context": [{"speaker": "user", "text": xss_text(sentinel_port)},
                     {"speaker": "assistant", "text": f"<b>hi</b> ![y](http://127.0.0.1:{sentinel_port}/y.png)"}],
         "text": xss_text(sentinel_port),
         "response": f"<img src=x onerror=\"window.__pwned=3\"> ![z](http://127.0.0.1:{sentinel_port}/z.png)"},
        {"id": "b-emoji", "conversation_id": "b3", "turn_index": 0, "context": [], "text": EMOJI_TEXT,
         "response": "Sorry! I've reserved a table for two."},
    ]
    extra_file = tmp / "extra.jsonl"
    extra_file.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in extra), encoding="utf-8")
    with Store(path) as db:
        labels.create_project(db, "default")
        labels.load_schema_yaml(db, "default", REPO / "sample_data" / "schema.yaml")
        labels.set_guidelines(db, "default", (REPO / "sample_data" / "guidelines.md").read_text(encoding="utf-8"))
        for files, role in (([REPO / "sample_data" / "dialogs.jsonl"], "suggestions"), ([extra_file], "ignore")):
            report = importer.import_files(db, files, project="default", labels=role)
            assert report.ok, report.summary()
        db.write(queue.set_ranking, "default", "browser-test", ["b-zh", "b-xss", "b-emoji"])
        users.add_user(db, "kb", "annotator", PASSWORD)


@pytest.fixture
def served(tmp_path):
    require_chromium()
    sentinel = Sentinel()
    db_path = tmp_path / "browser.duckdb"
    build_database(db_path, tmp_path, sentinel.port)
    try:
        with serving.served(db_path, tmp_path) as app:
            yield {**app, "db": db_path, "sentinel": sentinel}
    finally:
        sentinel.close()


# -- page helpers -----------------------------------------------------------------------------------
def form_id(page) -> str:
    return page.locator(".cc-root").last.get_attribute("data-form-id")


def wait_for_turn(page, text: str, previous_form: str | None = None):
    """Until the turn with ``text`` is the only one on the page (the previous one has gone)."""
    from playwright.sync_api import expect

    expect(page.locator(".cc-text").filter(has_text=text)).to_have_count(1, timeout=20_000)
    expect(page.locator(".cc-text")).to_have_count(1, timeout=20_000)
    if previous_form:
        expect(page.locator(".cc-root")).not_to_have_attribute("data-form-id", previous_form, timeout=20_000)
    page.wait_for_timeout(300)


def wait_for_next_form(page, previous_form: str) -> None:
    """Until one turn is on screen and it is not ``previous_form`` (keys before that are dropped)."""
    from playwright.sync_api import expect

    expect(page.locator(f".cc-root[data-form-id='{previous_form}']")).to_have_count(0, timeout=20_000)
    expect(page.locator(".cc-root")).to_have_count(1, timeout=20_000)
    page.wait_for_timeout(300)


def expect_intent(page, name: str) -> None:
    """The intent widget of the current turn shows ``name`` (during a rerun an older copy may linger)."""
    from playwright.sync_api import expect

    boxes = page.locator(f"[class*='st-key-label-intents-{form_id(page)}']")
    expect(boxes.filter(has_text=name).first).to_be_visible(timeout=10_000)


def press(page, *keys: str, pause: int = 120) -> None:
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(pause)


def select_with_mouse(page, first: int, last: int) -> None:
    """Drag from the left edge of code point ``first`` to the right edge of code point ``last``."""
    a = page.locator(f".cc-ch[data-i='{first}']").bounding_box()
    b = page.locator(f".cc-ch[data-i='{last}']").bounding_box()
    page.mouse.move(a["x"] + 1, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=4)
    page.mouse.move(b["x"] + b["width"] - 1, b["y"] + b["height"] / 2, steps=2)
    page.mouse.up()


def shot(page, name: str) -> None:
    screenshot(page, f"label-{name}")


def test_three_turns_by_keyboard_with_exact_code_point_spans(served):
    from playwright.sync_api import expect, sync_playwright

    sentinel = served["sentinel"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        outside = []
        local = (served["url"], "blob:" + served["url"], "data:")   # blob: is the component's own module
        page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
        page.goto(served["url"])
        serving.sign_in(page, "kb", PASSWORD)

        # Turn 1, Chinese: the span by mouse, everything else by keys.
        wait_for_turn(page, ZH_TEXT)
        shot(page, "1-chinese")
        select_with_mouse(page, 5, 11)                      # 订单12345 = code points 5..11
        press(page, "1")                                    # entity type 1: order_id
        expect(page.locator(".cc-chip")).to_have_count(1)
        press(page, "Home", "Shift+ArrowRight", "Shift+ArrowRight", "5")      # 退款 as product...
        expect(page.locator(".cc-chip")).to_have_count(2)
        press(page, "Backspace")                                              # ...removed again
        expect(page.locator(".cc-chip")).to_have_count(1)
        # NER mode: a label over a selection replaces every span it overlaps (no stacked duplicates).
        press(page, *["ArrowRight"] * 3, "Shift+ArrowRight", "Shift+ArrowRight", "5")   # 订单 over order_id
        expect(page.locator(".cc-chip")).to_have_count(1)
        assert json.loads(page.locator(".cc-root").last.get_attribute("data-spans")) == [
            {"start": 5, "end": 7, "label": "product"}]
        select_with_mouse(page, 5, 11)                      # the same characters again, relabelled
        press(page, "1")
        expect(page.locator(".cc-chip")).to_have_count(1)
        assert json.loads(page.locator(".cc-root").last.get_attribute("data-spans")) == [
            {"start": 5, "end": 12, "label": "order_id"}]
        press(page, "4", "q", "g")                          # intent 4 return_item, negative, aligned
        expect_intent(page, "return_item")
        shot(page, "1-chinese-labelled")
        first_form = form_id(page)
        press(page, "Enter")

        # Turn 2, the injection attempt: shown as text, nothing runs, nothing loads. A reload first:
        # the session (reload cookie) and the turn (lease) survive it.
        wait_for_turn(page, xss_text(sentinel.port), first_form)
        page.reload()
        wait_for_turn(page, xss_text(sentinel.port))
        expect(page.get_by_text("Signed in as")).to_be_visible()
        shot(page, "2-injection")
        assert page.evaluate("() => window.__pwned === undefined")
        assert page.locator("[data-testid='stMain'] img").count() == 0
        main_text = page.locator("[data-testid='stMain']").inner_text()
        assert "<script>window.__pwned=1</script>" in main_text
        assert f"![x](http://127.0.0.1:{sentinel.port}/x.png)" in main_text
        assert "<b>hi</b>" in main_text and "<img src=x" in main_text
        press(page, "End", *["Shift+ArrowLeft"] * 5)        # keyboard selection: "order"
        press(page, "5")                                    # entity type 5: product
        expect(page.locator(".cc-chip")).to_have_count(1)
        press(page, "/")                                    # search all intents
        page.keyboard.type("track_ord", delay=30)
        page.wait_for_timeout(300)
        shot(page, "2-injection-search")
        press(page, "Enter", "Escape", pause=400)
        expect_intent(page, "track_order")
        press(page, "w", "m")                               # neutral, misaligned
        second_form = form_id(page)
        shot(page, "2-injection-labelled")
        press(page, "Enter")

        # Turn 3, emoji before the span: the caret moves by grapheme cluster, and each 😤 (U+1F624) is
        # one cluster of one code point, so nine steps still land on code point 9. Labelled, undone (U
        # brings it back with what was submitted), relabelled over the same span; then the next turn is
        # skipped (S). Digit keys follow the schema's order whatever was used before: 2 is track_order.
        wait_for_turn(page, EMOJI_TEXT, second_form)
        for attempt in ("first", "again"):
            press(page, "Home", *["ArrowRight"] * 9, *["Shift+ArrowRight"] * 3, "1")   # "777" = 9..11
            expect(page.locator(".cc-chip")).to_have_count(1)
            if attempt == "first":
                press(page, "2", "q", "g")                  # intent 2 track_order, negative, aligned
            expect_intent(page, "track_order")
            third_form = form_id(page)
            shot(page, f"3-emoji-labelled-{attempt}")
            press(page, "Enter")
            wait_for_next_form(page, third_form)
            if attempt == "first":
                press(page, "u")
                wait_for_turn(page, EMOJI_TEXT)
                expect(page.locator(".cc-chip")).to_have_count(1)        # the submitted span is back
        fourth_form = form_id(page)
        fourth_text = page.locator(".cc-text").inner_text()
        shot(page, "4-next")
        press(page, "s")
        expect(page.locator(f".cc-root[data-form-id='{fourth_form}']")).to_have_count(0, timeout=20_000)
        assert page.evaluate("() => window.__pwned === undefined")
        browser.close()

    assert sentinel.hits == [], f"the page requested {sentinel.hits}"
    assert outside == [], f"requests left the server: {outside}"
    stop(served["server"])
    from store import Store, annotations

    with Store(served["db"]) as db:
        skipped = db.query("SELECT t.text FROM annotations a JOIN turns t USING (turn_id) "
                           "WHERE a.annotator = 'kb' AND a.action = 'skip'")
        undone = db.query("SELECT count(*) FROM annotations WHERE annotator = 'kb' AND action = 'undo'")[0][0]
        zh = annotations.turn_state(db, "b-zh", annotator="kb")
        xss = annotations.turn_state(db, "b-xss", annotator="kb")
        emoji = annotations.turn_state(db, "b-emoji", annotator="kb")
    assert zh["entities"] == [{"start": 5, "end": 12, "label": "order_id"}]
    assert ZH_TEXT[5:12] == "订单12345"
    assert zh["intents"] == ["return_item"] and zh["sentiment"] == "negative" and zh["aligned"] is True
    n = len(xss_text(0).replace("127.0.0.1:0", "127.0.0.1:%d" % sentinel.port))
    assert xss["entities"] == [{"start": n - 5, "end": n, "label": "product"}]
    assert xss["intents"] == ["track_order"] and xss["sentiment"] == "neutral" and xss["aligned"] is False
    assert emoji["entities"] == [{"start": 9, "end": 12, "label": "order_id"}]
    assert EMOJI_TEXT[9:12] == "777"
    assert emoji["intents"] == ["track_order"] and emoji["sentiment"] == "negative" and emoji["aligned"] is True
    assert undone == 1 and [row[0] for row in skipped] == [fourth_text]


@pytest.mark.parametrize("before, choice_key, also", [(["g"], "w", []), (["w", "g"], "5", ["change_address"])])
def test_a_search_right_after_a_choice_key_adds_the_intent_and_does_not_submit(served, before, choice_key, also):
    """W (a sentiment key) or a digit, then "/" 100 ms later: the search must land in the intent box
    and its Enter pick the intent. A choice key once re-keyed the intent box, so "/" focused a box the
    rerun then replaced, and the typed search and its Enter reached the page, which saved the turn as
    it was. A digit still re-keys it (it changes the intents): there the selector holds the keys until
    the rerun has drawn the new box. The turn is complete (intent, sentiment, fit) once the choice key
    is applied, so a leaked Enter would really submit it rather than stop at a missing choice."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        page.goto(served["url"])
        serving.sign_in(page, "kb", PASSWORD)
        wait_for_turn(page, ZH_TEXT)
        first_form = form_id(page)
        press(page, "4", *before, pause=600)                # an intent (as a pre-fill would) and the fit
        expect_intent(page, "return_item")
        press(page, choice_key, pause=100)                  # a choice key, then search at once
        press(page, "/", pause=0)
        page.keyboard.type("track_ord", delay=30)
        page.wait_for_timeout(300)
        press(page, "Enter", pause=1500)
        shot(page, f"search-after-choice-key-{choice_key}")
        assert form_id(page) == first_form, "Enter of the search submitted the turn"
        expect_intent(page, "track_order")
        press(page, "Escape", pause=400)
        press(page, "Enter")
        wait_for_next_form(page, first_form)
        browser.close()
    stop(served["server"])
    from store import Store, annotations

    with Store(served["db"]) as db:
        zh = annotations.turn_state(db, "b-zh", annotator="kb")
    assert sorted(zh["intents"]) == sorted(["return_item", "track_order", *also])
    assert zh["sentiment"] == "neutral" and zh["aligned"] is True


def focused_tag(page) -> str:
    return page.evaluate("() => document.activeElement ? document.activeElement.tagName : ''")


@pytest.mark.parametrize("pause", [400, 0])
def test_a_search_enter_picks_one_intent_and_hands_the_keys_back_to_the_page(served, pause):
    """"/" then Enter once took every intent (the multiselect's "Select all" came first and
    highlighted), and the search kept the focus, so W, G and Enter were typed into it ("utwg/…") and
    the turn was never submitted. Now Enter picks the one highlighted intent and leaves the box.
    ``pause`` 0: "/" right after a digit, so the selector holds the keys until the rerun has drawn the
    new box and replays them: its Enter must leave the box too, and what follows act on the page."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        page.goto(served["url"])
        serving.sign_in(page, "kb", PASSWORD)
        wait_for_turn(page, ZH_TEXT)
        first_form = form_id(page)
        if pause:
            press(page, "/", pause=600)
            press(page, "Enter", pause=1500)                # an empty search: the first intent only
            expect_intent(page, "greeting")
            assert focused_tag(page) != "INPUT", "the search kept the focus after Enter"
            expect(page.locator("[data-testid='cc-chosen-intents']").last).to_have_text("Intents to store: greeting")
        else:
            press(page, "1", pause=100)                     # greeting; "/" follows before its rerun
        press(page, "/", pause=pause)
        page.keyboard.type("change", delay=30 if pause else 0)
        page.wait_for_timeout(pause)
        press(page, "Enter", "w", "g", pause=pause or 30)
        shot(page, f"search-enter-returns-{pause}")
        page.wait_for_timeout(1500)
        assert focused_tag(page) != "INPUT", "the search kept the focus after Enter"
        press(page, "Enter")
        wait_for_next_form(page, first_form)
        browser.close()
    stop(served["server"])
    from store import Store, annotations

    with Store(served["db"]) as db:
        zh = annotations.turn_state(db, "b-zh", annotator="kb")
    assert len(zh["intents"]) == 2 and zh["intents"][0] == "greeting"    # one pick per Enter, not every match
    assert zh["intents"][1] in ("change_address", "change_booking")        # whichever the box ranked first
    assert zh["sentiment"] == "neutral" and zh["aligned"] is True
