"""Exports from a real store: filters, seeded grouped stratified splits, manifest, byte-identity, the record."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from store import annotations, importer, labels
from store.export import ExportFilters, export, export_records, list_exports, split_records
from store.records import write_jsonl
from test_formats_common import sample_records


def synthetic(n_conversations: int = 300, turns: int = 3) -> list[dict]:
    intents = ["refund", "cancel", "ship", "greet", "rare"]
    records = []
    for c in range(n_conversations):
        for t in range(turns):
            intent = "rare" if c % 50 == 0 else intents[(c + t // 2) % 4]
            records.append({"id": f"c{c}:{t}", "conversation_id": f"c{c}", "turn_index": t, "text": f"turn {c} {t}",
                            "intents": [intent], "entities": [], "context": [], "meta": {}})
    return records


def test_split_keeps_conversations_whole_and_follows_ratios_and_strata():
    records = synthetic()
    splits = split_records(records, seed=7)
    owner = {}
    for name, members in splits.items():
        for r in members:
            assert owner.setdefault(r["conversation_id"], name) == name
    sizes = {name: len(members) for name, members in splits.items()}
    assert sum(sizes.values()) == len(records)
    assert abs(sizes["train"] / len(records) - 0.8) < 0.03 and abs(sizes["test"] / len(records) - 0.1) < 0.03
    for intent in ("refund", "cancel", "ship", "greet"):
        share = Counter(r["intents"][0] for r in splits["validation"])[intent] / sizes["validation"]
        overall = Counter(r["intents"][0] for r in records)[intent] / len(records)
        assert abs(share - overall) < 0.06, intent


def test_split_is_seeded():
    records = synthetic(60)
    ids = lambda s: {k: sorted(r["id"] for r in v) for k, v in s.items()}  # noqa: E731
    assert ids(split_records(records, seed=1)) == ids(split_records(list(reversed(records)), seed=1))
    assert ids(split_records(records, seed=1)) != ids(split_records(records, seed=2))
    with pytest.raises(ValueError, match="summing to 1"):
        split_records(records, ratios={"train": 0.5, "test": 0.2})


@pytest.fixture
def filled(db, tmp_path):
    """A store with the sample turns imported as gold, plus human labels (one turn disputed) and a model run."""
    labels.create_project(db, "default")
    for kind, names in (("intent", ["refund", "cancel_order", "book_table", "shipping"]), ("entity", ["order_id", "city"])):
        for name in names:
            labels.add_label(db, "default", kind, name)
    path = tmp_path / "in.jsonl"
    write_jsonl(path, [{k: v for k, v in r.items() if k != "corrected_response"} for r in sample_records()])
    report = importer.import_files(db, [path], labels="gold")
    assert report.ok, report.problems
    labels.set_overlap(db, "default", 2)
    submit = dict(project="default", turn_id="c3:0", entities=[], sentiment=None, aligned=False)
    annotations.submit(db, annotation_id="a1", annotator="ann", intents=["shipping"], **submit)
    annotations.submit(db, annotation_id="a2", annotator="bob", intents=["refund"], **submit)
    annotations.submit(db, annotation_id="a3", turn_id="c2:0", project="default", annotator="ann",
                       intents=["cancel_order", "refund"], aligned=False,
                       corrected_response="Sure, order 42 is cancelled and refunded.")
    db.write(lambda con: (
        con.execute("INSERT INTO model_runs (run_id, project, kind, status) VALUES ('run1', 'default', 'fast', 'done')"),
        con.execute("INSERT INTO predictions (run_id, turn_id, intents, alignment_score) VALUES "
                    "('run1', 'c1:1', ['refund'], 0.9), ('run1', 'c2:2', ['refund'], 0.2), ('run1', 'c4:0', ['shipping'], 0.5)")))
    return db


def _ids(result) -> set[str]:
    return {json.loads(line)["id"] for line in (result.out / "data.jsonl").read_text(encoding="utf-8").splitlines()}


def test_filters_select_what_they_say(filled, tmp_path):
    everything = export(filled, tmp_path / "all", fmt="native")
    assert "c3:0" not in _ids(everything)  # disputed, unresolved
    assert "c3:0" in _ids(export(filled, tmp_path / "d", fmt="native", filters=ExportFilters(include_disputed=True)))
    assert _ids(export(filled, tmp_path / "h", fmt="native", filters=ExportFilters(sources=("human",)))) == {"c2:0"}
    assert _ids(export(filled, tmp_path / "a", fmt="native", filters=ExportFilters(annotators=("ann",)))) == {"c2:0"}
    assert _ids(export(filled, tmp_path / "i", fmt="native", filters=ExportFilters(intents=("book_table",)))) == {"c2:2"}
    agree = export(filled, tmp_path / "m", fmt="native", filters=ExportFilters(model_agreement="agree"))
    assert _ids(agree) == {"c1:1", "c4:0"}
    scored = export(filled, tmp_path / "s", fmt="native", filters=ExportFilters(min_alignment_score=0.4, max_alignment_score=0.6))
    assert _ids(scored) == {"c4:0"}
    assert _ids(export(filled, tmp_path / "t", fmt="native", filters=ExportFilters(since="2000-01-01"))) == {"c2:0"}
    with pytest.raises(ValueError):
        ExportFilters(sources=("robots",))


def test_manifest_hashes_counts_provenance_and_the_export_is_recorded(filled, tmp_path):
    result = export(filled, tmp_path / "out", fmt="conll", split=True, seed=3, exported_by="ana")
    manifest = json.loads((result.out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == result.manifest
    assert set(manifest["files"]) == {"train.conll", "validation.conll", "test.conll", "schema.yaml"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((result.out / name).read_bytes()).hexdigest() == digest
    assert manifest["model_run"] == "run1" and manifest["schema_hash"] == labels.schema_hash(filled, "default")
    assert manifest["tokenizer"] == "all-MiniLM-L6-v2" and manifest["code_version"]
    assert sum(c["turns"] for c in manifest["counts"].values()) == 5
    assert manifest["filters"]["include_disputed"] is False and manifest["split"]["seed"] == 3
    recorded = list_exports(filled, "default")
    assert [(r["format"], r["exported_by"]) for r in recorded] == [("conll", "ana")]


@pytest.mark.parametrize("fmt", ["native", "hf", "labelstudio", "dpo-trl"])
def test_the_same_export_twice_is_byte_identical(filled, tmp_path, fmt):
    def digest(folder: Path):
        return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    first = export(filled, tmp_path / "one", fmt=fmt, split=True)
    second = export(filled, tmp_path / "two", fmt=fmt, split=True)
    # every data file byte for byte; the manifest too, except when each export was made (exported_at)
    first_files, second_files = digest(first.out), digest(second.out)
    manifests = [json.loads(files.pop("manifest.json")) for files in (first_files, second_files)]
    assert first_files == second_files
    assert dict(manifests[0], exported_at=None) == dict(manifests[1], exported_at=None)
    assert first.export_id != second.export_id


def test_an_existing_folder_is_replaced_only_when_it_is_an_earlier_export(filled, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        export(filled, tmp_path / "busy", fmt="native", overwrite=True)
    export(filled, tmp_path / "out", fmt="native")
    with pytest.raises(FileExistsError):
        export(filled, tmp_path / "out", fmt="rasa")
    export(filled, tmp_path / "out", fmt="rasa", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["data.yml", "manifest.json", "schema.yaml"]
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_chat_and_dpo_use_corrections_and_only_aligned_responses(filled, tmp_path):
    chat = export(filled, tmp_path / "chat", fmt="chat")
    examples = [json.loads(x) for x in (chat.out / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    answers = {e["messages"][-2]["content"]: e["messages"][-1]["content"] for e in examples}
    assert answers["-5 degrees? book a table for 2 at Luigi's"] == "Booked for 2 at Luigi's."
    assert answers['=HYPERLINK("x") cancel order 42 and refund it'] == "Sure, order 42 is cancelled and refunded."
    assert "😀😀 ship to Berlin" not in answers  # misaligned, no correction (and disputed)
    assert examples[0]["messages"][:2] == [{"role": "user", "content": "你好"},
                                           {"role": "assistant", "content": "您好，请问有什么可以帮您？"}]
    dpo = export(filled, tmp_path / "dpo", fmt="dpo-openai")
    pairs = [json.loads(x) for x in (dpo.out / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(p["preferred_output"][0]["content"], p["non_preferred_output"][0]["content"]) for p in pairs] == [
        ("Sure, order 42 is cancelled and refunded.", "Hi!")]


def test_export_records_needs_no_store(tmp_path):
    manifest = export_records(sample_records(), tmp_path / "x", fmt="intent-csv", split=True, seed=0)
    assert sum(c["turns"] for c in manifest["counts"].values()) == len(sample_records())
    assert manifest["tokenizer"] is None and manifest["split"]["grouped_by"] == "conversation_id"


def test_export_page_writes_an_export_and_lists_it(filled, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from workbench import runtime

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(runtime._stores, str(tmp_path / "page.duckdb"), filled)
    script = ("from types import SimpleNamespace\nfrom workbench import runtime\nfrom workbench.views.export import render\n"
              f"render(runtime.get_store({str(tmp_path / 'page.duckdb')!r}), SimpleNamespace(username='ana', role='admin'))\n")
    app = AppTest.from_string(script, default_timeout=60)
    app.run()
    app.selectbox[0].set_value("rasa")
    app.text_input[0].set_value(str(tmp_path / "page-out"))
    app.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert (tmp_path / "page-out" / "manifest.json").is_file()
    assert [(r["format"], r["exported_by"]) for r in list_exports(filled, "default")] == [("rasa", "ana")]


def test_cli_exports_and_refuses_to_overwrite_without_force(tmp_path, capsys):
    from workbench.cli import main

    source = tmp_path / "in.jsonl"
    write_jsonl(source, [{k: v for k, v in r.items() if k != "corrected_response"} for r in sample_records()])
    db_path = str(tmp_path / "cli.duckdb")
    assert main(["import", str(source), "--db", db_path]) == 0
    out = str(tmp_path / "set")
    assert main(["export", "--db", db_path, "--format", "doccano", "--out", out, "--split", "--seed", "1",
                 "--intent", "refund,shipping", "--by", "cli"]) == 0
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["filters"]["intents"] == ["refund", "shipping"] and manifest["split"]["seed"] == 1
    assert sum(c["turns"] for c in manifest["counts"].values()) == 4
    assert main(["export", "--db", db_path, "--format", "doccano", "--out", out]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["export", "--db", db_path, "--format", "doccano", "--out", out, "--force", "--ratios", "1,0"]) == 2


def test_cli_summary_names_the_rows_a_pair_format_wrote(tmp_path, capsys):
    """dpo-trl printed "exported 266 turns ... (data 266)" for a file of 9 pairs."""
    from workbench.cli import main

    source = tmp_path / "in.jsonl"
    write_jsonl(source, sample_records())
    db_path = str(tmp_path / "cli.duckdb")
    assert main(["import", str(source), "--db", db_path]) == 0
    capsys.readouterr()
    assert main(["export", "--db", db_path, "--format", "dpo-trl", "--out", str(tmp_path / "dpo")]) == 0
    rows = len((tmp_path / "dpo" / "data.jsonl").read_text(encoding="utf-8").splitlines())
    assert f"; {rows} row(s) written" in capsys.readouterr().out
