"""Helpers for the workbench tests: a small seeded database and AppTest runs against it.

The data is tiny and written here (no dependency on sample_data/): English, Chinese and emoji turns,
one turn whose text is an injection attempt, and one with an imported suggestion.
"""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "workbench" / "app.py")
PASSWORDS = {"ann": "annotator-pass", "ana": "analyst-pass", "boss": "admin-pass!"}
ROLES = {"ann": "annotator", "ana": "analyst", "boss": "admin"}

SCHEMA_YAML = """\
intents: [track_order, return_item, greeting, cancel_order, product_question]
entities: [order_id, date, product]
sentiments: [negative, neutral, positive]
"""

XSS_TEXT = ("<script>window.__pwned=1</script> <img src=x onerror=\"window.__pwned=2\"> "
            "![x](http://127.0.0.1:{port}/x.png) **bold** where is my order")

TURNS = [
    {"id": "t-zh", "conversation_id": "c1", "turn_index": 0, "context": [],
     "text": "退款 🙂 订单12345", "response": "好的，已为您处理订单12345的退款。"},
    {"id": "t-en", "conversation_id": "c2", "turn_index": 2,
     "context": [{"speaker": "user", "text": "hi"}, {"speaker": "assistant", "text": "Hello! How can I help?"}],
     "text": "where is order A123 please", "response": "It ships tomorrow."},
    {"id": "t-emoji", "conversation_id": "c3", "turn_index": 0, "context": [],
     "text": "😤😤 order 777 never came", "response": "Sorry! I've reserved a table for two."},
    {"id": "t-sug", "conversation_id": "c4", "turn_index": 0, "context": [],
     "text": "cancel order B9 now", "response": "Cancelled.",
     "intents": ["cancel_order"], "entities": [{"start": 13, "end": 15, "label": "order_id"}],
     "sentiment": "negative", "aligned": True},
]


def xss_turn(port: int = 9) -> dict:
    return {"id": "t-xss", "conversation_id": "c5", "turn_index": 2,
            "context": [{"speaker": "user", "text": XSS_TEXT.format(port=port)},
                        {"speaker": "assistant", "text": "<b>not bold</b> ![y](http://127.0.0.1:%d/y.png)" % port}],
            "text": XSS_TEXT.format(port=port),
            "response": "<img src=x onerror=\"window.__pwned=3\"> ![z](http://127.0.0.1:%d/z.png)" % port}


def seed(db, tmp_path: Path, *, turns: list[dict] | None = None, with_suggestions: bool = True,
         port: int = 9, users: tuple[str, ...] = ("ann", "ana", "boss")) -> None:
    """Schema, turns (suggestions for the ones carrying labels), and users with known passwords."""
    from store import importer, labels
    from store import users as store_users

    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA_YAML, encoding="utf-8")
    labels.create_project(db, "default")
    labels.load_schema_yaml(db, "default", schema)
    labels.set_guidelines(db, "default", "# Guidelines\nLabel the **user** turn.")
    rows = turns if turns is not None else [*TURNS, xss_turn(port)]
    unlabelled = [t for t in rows if "intents" not in t]
    if unlabelled:
        plain = tmp_path / "turns.jsonl"
        plain.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in unlabelled), encoding="utf-8")
        report = importer.import_files(db, [plain], project="default", labels="ignore")
        assert report.ok, report.summary()
    labelled = [t for t in rows if "intents" in t]
    if labelled:
        path = tmp_path / "suggested.jsonl"
        path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in labelled), encoding="utf-8")
        report = importer.import_files(db, [path], project="default",
                                       labels="suggestions" if with_suggestions else "ignore")
        assert report.ok, report.summary()
    for name in users:
        store_users.add_user(db, name, ROLES[name], PASSWORDS[name])


def app_test(path: str = APP):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(path, default_timeout=30)


def signed_in(name: str, path: str = APP):
    """An AppTest that has signed in through the sign-in form (the real path, not a shortcut)."""
    at = app_test(path).run()
    at.text_input(key="sign_in_user").input(name)
    at.text_input(key="sign_in_password").input(PASSWORDS[name])
    at.button(key="FormSubmitter:sign_in-Sign in").click()
    at.run()
    return at


def open_label_form(at):
    """The Label page's open form (the LabelForm in session state); fails when no turn is shown."""
    from workbench.views import label

    assert label.FORM_KEY in at.session_state, "no turn is shown"
    return at.session_state[label.FORM_KEY]


def submit_label(at, intents: list[str]):
    """Label the open turn with ``intents``, neutral and aligned, press Submit; the form that was submitted."""
    form = open_label_form(at)
    at.multiselect(key=form.key("intents")).set_value(intents)
    at.segmented_control(key=form.key("sentiment")).set_value("neutral")
    at.segmented_control(key=form.key("aligned")).set_value(True)
    at.button(key=form.key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    return form


def flag_button(at):
    """The open form's Flag / Unflag button (its key changes with each press)."""
    form_id = open_label_form(at).form_id
    return next(b for b in at.button if (b.key or "").startswith("label-flag") and b.key.endswith(form_id))


def texts(at) -> str:
    """Everything AppTest shows as text, for 'is it on the page' checks."""
    import html

    parts = []
    for kind in ("title", "header", "caption", "markdown", "text", "code", "info", "success", "warning", "error"):
        parts += [getattr(e, "value", "") or "" for e in getattr(at, kind)]
    parts += [html.unescape(getattr(e.proto, "body", "")) for e in at.get("html")]   # escaped notices
    return "\n".join(str(p) for p in parts)


def make_template(directory: Path, **seed_options) -> Path:
    """Seed a database once and close it, so each test can start from a cheap file copy."""
    from store import Store

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "template.duckdb"
    with Store(path) as db:
        seed(db, directory, **seed_options)
    return path


def open_copy(template: Path, tmp_path: Path, monkeypatch):
    """A private copy of ``template`` opened as the app's store (CONCORD_DB points at it)."""
    import shutil

    from workbench import auth, runtime

    path = tmp_path / "app.duckdb"
    shutil.copyfile(template, path)
    monkeypatch.setenv(runtime.ENV_DB, str(path))
    monkeypatch.delenv(runtime.ENV_PROJECT, raising=False)
    auth._failures.clear()
    return runtime.get_store(str(path))


def add_model_suggestion(db, turn_id: str, *, intents: list[str], probs: dict[str, float],
                         entities: list[dict] = (), entity_scores: list[float] = (),
                         encoder_reads: bool | None = None) -> None:
    """A finished model run ('run-s') whose prediction for ``turn_id`` is what the label page suggests;
    ``encoder_reads``: the run's verdict on whether its encoder could read the turn (None: not checked)."""
    import json

    def write(con):
        con.execute("INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
                    " created_at, finished_at) VALUES ('run-s', 'default', 'fast', 'done', 'v-s', 1, '{}', '{}',"
                    " '2024-05-02 00:00:00', '2024-05-02 00:00:00')")
        con.execute("INSERT INTO predictions (run_id, turn_id, intents, intent_probs, entities, entity_scores,"
                    " sentiment, sentiment_probs, alignment_score, misalignment_prob, uncertainty, encoder_reads)"
                    " VALUES ('run-s', ?, ?, ?, ?, ?, NULL, '{}', NULL, NULL, 0.5, ?)",
                    [turn_id, intents, json.dumps(probs), list(entities), list(entity_scores), encoder_reads])
    db.write(write)


def open_overlap_store(tmp_path: Path, monkeypatch, *, users=("ann", "ana")):
    """The seeded test data with two annotators per turn (overlap 2), opened as the app opens its store."""
    from store import labels
    from workbench import runtime

    path = tmp_path / "app.duckdb"
    monkeypatch.setenv(runtime.ENV_DB, str(path))
    monkeypatch.delenv(runtime.ENV_PROJECT, raising=False)
    db = runtime.get_store(str(path))
    seed(db, tmp_path, users=users)
    labels.set_overlap(db, "default", 2)
    return db


def open_recent_labels(at) -> list:
    """Open the sidebar's "My recent labels" and return its Edit buttons, newest first."""
    from workbench.components import recent_labels

    at.session_state[recent_labels.RECENT_KEY] = True
    at.run()
    assert not at.exception, at.exception
    return [b for b in at.sidebar.button if (b.key or "").startswith("label-recent-edit:")]
