"""XSS and Markdown-injection payloads in every user-derived field, shown on every page in a real browser.

Turn text, response, context, conversation ids, turn ids, intent names and entity labels all carry
script tags, ``onerror`` images, ``javascript:`` links and Markdown images pointing at a local
sentinel HTTP server. The turns are imported as gold labels (so the payload names enter the schema),
two annotators label them, and a model run with predictions and embeddings is stored, so the analyst
pages have data to draw. An admin then opens every page in the navigation. On each: no script ran
(``window.__pwned`` stays undefined), no ``<img>`` points at the sentinel, no Streamlit exception;
and the sentinel receives no request at all. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.reliability.browser_kit import (
    ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Sentinel, exception_texts, require_chromium, served, sign_in,
)
from tests.reliability.figures import report

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

PASSWORD = "inject-admin-1"
N_TURNS, OPEN_TURNS = 30, 5
OPTIONS = "Label (intent options open)"
PAGE_TIMEOUT_MS = 120_000
# Navigation title -> what shows the page has drawn (a heading, or the label page's turn text).
PAGES = {"Label": None, "Export": "Export", "Model health": "Model health", "Label errors": "Likely label errors",
         "Misalignment": "Misalignment explorer", "Agreement": "Agreement", "Pipeline": "Pipeline",
         "Schema": "Label schema", "Users": "Users"}


def payloads(port: int) -> list[str]:
    return ["<script>window.__pwned=1</script>", '<img src=x onerror="window.__pwned=1">',
            "[click](javascript:window.__pwned=1)", f"![x](http://127.0.0.1:{port}/x.png)"]


def hostile_turns(port: int) -> tuple[list[dict], list[str]]:
    """N_TURNS turns with a payload in every field; their intents are payload-named (and one plain name)."""
    bad = payloads(port)
    intents = [f"{p} intent" for p in bad] + ["track_order"]
    rows = []
    for i in range(N_TURNS):
        p = bad[i % len(bad)]
        text = f"{p} where is order {i} {bad[(i + 1) % len(bad)]}"
        rows.append({
            "id": f"t{i} {p}" if i % 3 == 0 else f"t{i}",
            "conversation_id": f"conv {p} {i}", "turn_index": 1,
            "context": [{"speaker": "user", "text": f"hi {p}"}, {"speaker": "assistant", "text": f"hello {p}"}],
            "text": text, "response": f"{bad[(i + 2) % len(bad)]} reply {i}",
            "intents": [intents[i % len(intents)]],
            "entities": [{"start": 0, "end": len(p), "label": f"{bad[(i + 3) % len(bad)]} entity"}],
            "sentiment": "negative", "aligned": i % 2 == 0,
        })
    for row in rows[-OPEN_TURNS:]:                     # left open, so the admin's label page has a turn to show
        row.update(intents=[], entities=[], sentiment=None, aligned=None)
    return rows, intents


def build_database(path: Path, tmp: Path, port: int) -> list[str]:
    """Gold-imported hostile turns, two annotators' labels, a model run with predictions and embeddings."""
    from store import Store, annotations, importer, labels, users
    from store.jobfiles import RESULTS, default_jobs_dir

    rows, intents = hostile_turns(port)
    data = tmp / "hostile.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with Store(path) as db:
        labels.create_project(db, "default", overlap=2)
        imported = importer.import_files(db, [data], project="default", labels="gold")
        assert imported.ok, imported.summary()
        users.add_user(db, "boss", "admin", PASSWORD)
        for i, row in enumerate(rows[:-OPEN_TURNS]):
            for who, shift in (("ann1", 0), ("ann2", i % 2)):     # the annotators disagree on every 2nd turn
                annotations.submit(db, annotation_id=f"{who}-{i}", turn_id=row["id"], project="default", annotator=who,
                                   intents=[intents[(i + shift) % len(intents)]], entities=row["entities"],
                                   sentiment="negative", aligned=row["aligned"], duration_ms=3000)
        db.write(write_run, [r["id"] for r in rows], intents)
        out = default_jobs_dir(str(path)) / RESULTS / "r1"
        out.mkdir(parents=True)
        np.savez(out / "embeddings.npz", ids=np.array([r["id"] for r in rows]),
                 vectors=np.random.default_rng(0).normal(size=(len(rows), 16)).astype(np.float16))
        return [r["id"] for r in rows]


def write_run(con, turn_ids: list[str], intents: list[str]) -> None:
    """A finished run whose predictions disagree with the labels on every third turn (payload names)."""
    con.execute("INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
                " created_at, finished_at) VALUES ('r1', 'default', 'fast', 'done', 'v1-fast', ?, '{}', '{}', now(),"
                " now())", [len(turn_ids)])
    for i, turn_id in enumerate(turn_ids):
        intent = intents[(i + (1 if i % 3 == 0 else 0)) % len(intents)]
        con.execute("INSERT INTO predictions (run_id, turn_id, intents, intent_probs, alignment_score,"
                    " misalignment_prob) VALUES ('r1', ?, ?, ?, ?, ?)",
                    [turn_id, [intent], json.dumps({intent: 0.9}), i / len(turn_ids), 1 - i / len(turn_ids)])


def open_page(page, nav, title: str, heading: str | None) -> None:
    """Click ``title`` in the navigation (a URL change would start a new, signed-out session) and let it draw."""
    from playwright.sync_api import expect

    nav.get_by_text(title, exact=True).click()
    drawn = page.locator(".cc-text") if heading is None else page.get_by_role("heading", name=heading)
    failed = page.locator("[data-testid='stException']")
    expect(drawn.or_(failed).first).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    expect(page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")).to_have_count(
        1, timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(2500)                        # charts, components and images get time to load


def show_intent_options(page) -> None:
    """Open the label page's intent search (``/``): every intent name is drawn as an option."""
    from playwright.sync_api import expect

    page.locator(".cc-text").click()
    page.keyboard.press("/")
    expect(page.get_by_role("option").first).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(1000)


def page_findings(page, port: int) -> dict:
    sentinel_imgs = page.evaluate(
        "port => [...document.querySelectorAll('img')].map(i => i.src).filter(s => s.includes(':' + port + '/'))", port)
    return {"pwned": page.evaluate("() => typeof window.__pwned !== 'undefined'"),
            "sentinel_imgs": sentinel_imgs, "exceptions": exception_texts(page),
            "payload_shown": "window.__pwned=1" in page.locator("[data-testid='stMain']").inner_text()}


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    """Serve the hostile database, sign in as admin and open every page once; what each page showed."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    tmp_path = tmp_path_factory.mktemp("injection")
    ARTIFACTS.mkdir(exist_ok=True)
    sentinel = Sentinel()
    findings, outside = {}, []
    try:
        db_path = tmp_path / "hostile.duckdb"
        build_database(db_path, tmp_path, sentinel.port)
        with served(db_path, tmp_path) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1100})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            local = (server["url"], "blob:" + server["url"], "data:")   # blob: is a component's own module
            page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
            sign_in(page, server["url"], "boss", PASSWORD)
            nav = page.locator("[data-testid='stSidebarNav']")
            expect(nav).to_be_visible(timeout=PAGE_TIMEOUT_MS)
            for title, heading in PAGES.items():
                open_page(page, nav, title, heading)
                page.screenshot(path=str(ARTIFACTS / f"injection-{title.lower().replace(' ', '-')}.png"),
                                full_page=True)
                findings[title] = page_findings(page, sentinel.port)
                if title == "Label":                   # the intent options (payload names) drawn as a list too
                    show_intent_options(page)
                    page.screenshot(path=str(ARTIFACTS / "injection-label-intent-options.png"), full_page=True)
                    findings[OPTIONS] = page_findings(page, sentinel.port)
                    page.keyboard.press("Escape")
            browser.close()
    finally:
        sentinel.close()
    report("browser_injection", pages=len(findings),
           pages_showing_payload_text=sum(f["payload_shown"] for f in findings.values()),
           pwned_pages=sum(f["pwned"] for f in findings.values()), sentinel_requests=len(sentinel.hits),
           sentinel_imgs=sum(len(f["sentinel_imgs"]) for f in findings.values()),
           pages_with_exception=sum(bool(f["exceptions"]) for f in findings.values()),
           requests_leaving_server=len(outside))
    return {"findings": findings, "sentinel_hits": list(sentinel.hits), "outside": outside}


def test_no_script_runs_and_nothing_reaches_the_sentinel_on_any_page(walked):
    findings = walked["findings"]
    assert list(findings) == ["Label", OPTIONS, *list(PAGES)[1:]]
    assert {t: f for t, f in findings.items() if f["pwned"] or f["sentinel_imgs"]} == {}
    assert walked["sentinel_hits"] == [], f"the pages requested {walked['sentinel_hits']}"
    assert walked["outside"] == [], f"requests left the server: {walked['outside']}"
    shown_on = [t for t, f in findings.items() if f["payload_shown"]]
    assert "Label" in shown_on and len(shown_on) >= 4, f"payload text visible only on {shown_on}"


def test_every_page_draws_without_an_exception(walked):
    failing = {t: f["exceptions"] for t, f in walked["findings"].items() if f["exceptions"]}
    assert failing == {}
