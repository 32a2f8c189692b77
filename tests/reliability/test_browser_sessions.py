"""5 real browser sessions x 20 labels through the UI, at the same time, against one `concord serve`.

Each session is its own thread with its own Playwright and chromium (Playwright's sync API is per
thread), signed in as its own annotator. A label is a digit key (an intent, in schema order), W (a
sentiment) and G (the response fit: every sample turn shows a response) -- a submit needs all three --
and Enter; the submit
counts as acknowledged when the next turn replaces the form. Afterwards the database must hold
exactly the acknowledged labels (20 per annotator), no turn labelled twice (overlap 1), and no
page may have shown a Streamlit exception or logged a console error. The figure is the client-side
time from Enter to the next turn on screen.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.reliability.browser_kit import (
    ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, exception_texts, require_chromium, served, sign_in, wait_until,
)
from tests.reliability.figures import percentile, report

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SESSIONS, LABELS_EACH = 5, 20
PASSWORD = "five-sessions-1"
INTENT_BY_KEY = {"1": "greeting", "2": "track_order", "3": "cancel_order", "4": "return_item", "5": "change_address"}
NEXT_TURN_TIMEOUT_S = 90          # a loaded 2-core machine running 5 chromiums and the server


def build_database(path: Path) -> int:
    """The sample dialogs (342 turns, no labels) and the sample schema; one annotator per session."""
    from store import Store, importer, labels, users

    with Store(path) as db:
        labels.create_project(db, "default")
        labels.load_schema_yaml(db, "default", REPO / "sample_data" / "schema.yaml")
        assert importer.import_files(db, [REPO / "sample_data" / "dialogs.jsonl"], labels="ignore").ok
        for i in range(SESSIONS):
            users.add_user(db, f"sess{i}", "annotator", PASSWORD)
        return db.query_one("SELECT count(*) FROM turns")[0]


def form_ids(page) -> list[str]:
    return page.locator(".cc-root").evaluate_all("els => els.map(e => e.dataset.formId)")


def label_turns(url: str, username: str, result: dict) -> None:
    """One annotator's session: sign in, then LABELS_EACH times digit, W, G + Enter, timing each submit."""
    from playwright.sync_api import expect, sync_playwright

    result.update(acked=[], latencies=[], console_errors=[], exceptions=[], error=None)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(NEXT_TURN_TIMEOUT_S * 1000)
            page.on("console", lambda m: result["console_errors"].append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: result["console_errors"].append(f"pageerror: {e}"))
            sign_in(page, url, username, PASSWORD)
            expect(page.locator(".cc-text")).to_have_count(1, timeout=NEXT_TURN_TIMEOUT_S * 1000)
            try:
                for n in range(LABELS_EACH):
                    text, latency = label_one(page, key=str(1 + n % 5))
                    result["acked"].append(text)
                    result["latencies"].append(latency)
                    result["exceptions"] += exception_texts(page)
            except Exception:  # the page as it was when a wait gave up, then the error goes up
                page.screenshot(path=str(ARTIFACTS / f"reliability-session-{username}-error.png"), full_page=True)
                raise
            page.screenshot(path=str(ARTIFACTS / f"reliability-session-{username}.png"), full_page=True)
            browser.close()
    except Exception as exc:  # reported by the test with the session's name
        result["error"] = repr(exc)


def label_one(page, *, key: str) -> tuple[str, float]:
    """Pick an intent by ``key``, neutral and aligned, press Enter, wait for the next form: the labelled
    text, Enter-to-next s. Enter waits until the page shows all three choices, as a submit needs them."""
    from playwright.sync_api import expect

    wait_until(lambda: len(form_ids(page)) == 1, NEXT_TURN_TIMEOUT_S, "a single open turn")
    form = form_ids(page)[0]
    text = page.locator(".cc-text").inner_text()
    page.locator(".cc-text").click()                  # focus the turn: keys go to the page from there
    for choice, name, shown in ((key, "intents", INTENT_BY_KEY[key]), ("w", "sentiment", "neutral"),
                                ("g", "aligned", "aligned")):
        page.keyboard.press(choice)               # each shown before the next key, as an annotator sees it
        box = page.locator(f"[class*='st-key-label-{name}-{form}']")
        chosen = box if name == "intents" else box.get_by_role("radio", checked=True)
        expect(chosen.filter(has_text=shown).first).to_be_visible(timeout=NEXT_TURN_TIMEOUT_S * 1000)
    started = time.perf_counter()
    page.keyboard.press("Enter")
    wait_until(lambda: (ids := form_ids(page)) and len(ids) == 1 and ids[0] != form,
               NEXT_TURN_TIMEOUT_S, f"the turn after {form}")
    return text, time.perf_counter() - started


@pytest.mark.timeout(900)      # 5 chromiums + the server on a shared 2-core machine: minutes, not seconds
def test_five_browser_sessions_label_concurrently_and_lose_nothing(tmp_path):
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    db_path = tmp_path / "sessions.duckdb"
    n_turns = build_database(db_path)
    assert n_turns >= 150
    results = {f"sess{i}": {} for i in range(SESSIONS)}
    with served(db_path, tmp_path) as server:
        threads = [threading.Thread(target=label_turns, args=(server["url"], who, results[who])) for who in results]
        started = time.perf_counter()
        [t.start() for t in threads]
        [t.join() for t in threads]
        seconds = time.perf_counter() - started
    from store import Store
    from store.queue import LIVE_LABELS

    with Store(db_path) as db:
        per_annotator = dict(db.query(f"SELECT annotator, count(*) FROM ({LIVE_LABELS}) GROUP BY annotator"))
        doubled = db.query(f"SELECT turn_id, count(*) n FROM ({LIVE_LABELS}) GROUP BY turn_id HAVING n > 1")
        stored_texts = {who: sorted(r[0] for r in db.query(
            f"SELECT t.text FROM ({LIVE_LABELS}) a JOIN turns t USING (turn_id) WHERE a.annotator = ?", [who]))
            for who in results}
    latencies = [x for r in results.values() for x in r["latencies"]]
    errors = {who: r["error"] for who, r in results.items() if r["error"]}
    assert latencies, errors                   # no submit went through at all: say why, not a NaN percentile
    acked = sum(len(r["acked"]) for r in results.values())
    lost = sum(len(set(r["acked"]) - set(stored_texts[who])) for who, r in results.items())
    exceptions = [x for r in results.values() for x in r["exceptions"]]
    console = [x for r in results.values() for x in r["console_errors"]]
    report("browser_sessions", sessions=SESSIONS, turns=n_turns, acked=acked, lost=lost, duplicates=len(doubled),
           session_errors=len(errors), exceptions=len(exceptions), console_errors=len(console),
           next_turn_p50_ms=round(percentile(latencies, 50) * 1000), seconds=round(seconds, 1),
           next_turn_p95_ms=round(percentile(latencies, 95) * 1000))
    assert errors == {}, errors
    assert exceptions == [] and console == [], (exceptions, console)
    assert per_annotator == {who: LABELS_EACH for who in results}
    assert lost == 0 and doubled == []
