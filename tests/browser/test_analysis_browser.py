"""The analyst pages in a real browser (Debian's chromium via Playwright, against `concord serve`): sign in
as an analyst, click an off-diagonal confusion-matrix cell, see its turns, relabel one with a click
(checked in the store), then walk the label-error, misalignment and agreement pages; and run the
out-of-fold audit from the page (a child process of the server) until its rows list. Screenshots go to
test-artifacts/."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import serving
from serving import CHROMIUM, CHROMIUM_ARGS, require_chromium, screenshot, stop

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "analyst-pass-1"
INTENTS = ["track_order", "return_item", "greeting"]


def build_database(path: Path, tmp: Path) -> tuple[str, str]:
    """30 labelled turns, a run whose predictions are wrong on t3 (track_order -> greeting), embeddings."""
    from store import Store, annotations, importer, labels, users
    from store.jobfiles import RESULTS, default_jobs_dir

    rows = [{"id": f"t{i}", "text": f"turn {i}: <b>where</b> is order {i}?", "response": f"reply {i}"} for i in range(30)]
    data = tmp / "turns.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with Store(path) as db:
        labels.create_project(db, "default")
        for name in INTENTS:
            labels.add_label(db, "default", "intent", name)
        assert importer.import_files(db, [data], labels="ignore").ok
        users.add_user(db, "ana", "analyst", PASSWORD)
        for i in range(30):
            annotations.submit(db, annotation_id=f"a{i}", turn_id=f"t{i}", project="default", annotator="ann",
                               intents=[INTENTS[i % 3]], duration_ms=4000)

        def write_run(con):
            con.execute("INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics,"
                        " timings, created_at, finished_at) VALUES ('r1', 'default', 'fast', 'done', 'v1-fast', 30,"
                        " '{}', '{}', now(), now())")
            for i in range(30):
                intent = "greeting" if i == 3 else INTENTS[i % 3]
                con.execute("INSERT INTO predictions (run_id, turn_id, intents, intent_probs, alignment_score,"
                            " misalignment_prob) VALUES ('r1', ?, ?, ?, ?, ?)",
                            [f"t{i}", [intent], json.dumps({intent: 0.9}), i / 30, 1 - i / 30])
        db.write(write_run)
        out = default_jobs_dir(str(path)) / RESULTS / "r1"
        out.mkdir(parents=True)
        np.savez(out / "embeddings.npz", ids=np.array([f"t{i}" for i in range(30)]),
                 vectors=np.random.default_rng(0).normal(size=(30, 16)).astype(np.float16))
    return "track_order", "greeting"


@pytest.fixture
def served(tmp_path):
    require_chromium()
    db_path = tmp_path / "analyst.duckdb"
    cell = build_database(db_path, tmp_path)
    with serving.served(db_path, tmp_path) as app:
        yield {**app, "db": db_path, "cell": cell}


def shot(page, name: str) -> None:
    screenshot(page, f"analysis-{name}")


def no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, page.locator("[data-testid='stException']").inner_text()


def open_from_nav(page, nav, link: str, title: str) -> None:
    """Click a sidebar link until its page's heading shows: a click that lands while the sign-in rerun
    is still redrawing the page is dropped (seen once on the loaded 2-core machine)."""
    from playwright.sync_api import expect

    for attempt in range(3):
        nav.get_by_text(link, exact=True).click()
        try:
            expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=15_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def test_click_a_confusion_cell_relabel_and_walk_the_views(served):
    from playwright.sync_api import expect, sync_playwright

    gold, predicted = served["cell"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.goto(served["url"])
        serving.sign_in(page, "ana", PASSWORD)
        nav = page.locator("[data-testid='stSidebarNav']")
        expect(nav).to_be_visible(timeout=30_000)
        open_from_nav(page, nav, "Model health", "Model health")  # a URL change would open a new (signed-out) session
        points = page.locator(".js-plotly-plot .scatterlayer .point")
        expect(points.first).to_be_visible(timeout=30_000)
        shot(page, "1-health")
        # cells are drawn row by row (given), non-empty only: greeting/greeting, return_item/return_item,
        # track_order/greeting, track_order/track_order (labels sorted) -> the off-diagonal one is the 3rd
        points.nth(2).click(force=True)
        expect(page.get_by_text(f"labelled '{gold}', predicted '{predicted}'")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("1 turn(s)", exact=False)).to_be_visible()
        shot(page, "2-cell")
        page.get_by_role("button", name="Relabel to the suggestion").click()
        expect(page.get_by_text("t3: intent track_order -> greeting", exact=False)).to_be_visible(timeout=30_000)
        no_exception(page)
        shot(page, "3-relabelled")
        for link, title in (("Label errors", "Likely label errors"), ("Misalignment", "Misalignment explorer"),
                            ("Agreement", "Agreement")):
            open_from_nav(page, nav, link, title)
            page.wait_for_timeout(1500)
            no_exception(page)
            shot(page, f"4-{link.lower().replace(' ', '-')}")
        browser.close()
    stop(served["server"])
    from store import Store, analysis

    with Store(served["db"]) as db:
        now = analysis.current_labels(db, "default", ["t3"])["t3"]
    assert now["intents"] == ["greeting"] and now["source"] == "adjudicated"


def sign_in_and_open(page, link: str, heading: str) -> None:
    from playwright.sync_api import expect

    serving.sign_in(page, "ana", PASSWORD)
    nav = page.locator("[data-testid='stSidebarNav']")
    expect(nav).to_be_visible(timeout=30_000)
    nav.get_by_text(link, exact=True).click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=30_000)


def test_the_out_of_fold_audit_runs_from_the_page_in_a_child_process(served):
    """The server starts ``pipeline.audit_run`` (torch loads there, not in the server); the page shows
    its progress, then its ranked rows. Refresh is clicked until they list."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.goto(served["url"])
        sign_in_and_open(page, "Label errors", "Likely label errors")
        page.get_by_text("Out-of-fold audit", exact=False).click()
        page.get_by_role("button", name="Run the audit now").click()
        expect(page.get_by_text("Auditing the labels", exact=False)).to_be_visible(timeout=30_000)
        shot(page, "5-audit-running")
        done = page.get_by_text("candidate(s), most likely error first", exact=False)
        for _ in range(120):
            if done.count() or page.get_by_text("The audit failed.").count():
                break
            refresh = page.get_by_role("button", name="Refresh")
            if refresh.count():
                refresh.click()
            page.wait_for_timeout(1000)
        no_exception(page)
        shot(page, "6-audit-done")
        assert page.get_by_text("The audit failed.").count() == 0, page.locator("[data-testid='stText']").all_inner_texts()
        expect(done).to_be_visible()
        browser.close()
    stop(served["server"])
