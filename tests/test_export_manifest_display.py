"""The CLI summary and the Export page name the export's version identity (the start of its label
fingerprint, when and by whom), so an analyst can tell an export of today's labels from an older one
without opening manifest.json."""
from __future__ import annotations

import json
from pathlib import Path

import test_export
import test_export_page
from store.export import list_exports
from store.records import write_jsonl
from test_formats_common import sample_records
from workbench.cli import main

filled = test_export.filled      # gold imports, human labels (one turn disputed), a model run
page = test_export_page.page     # the Export page over that store, as an analyst sees it
export_now = test_export_page.export_now


def test_the_cli_summary_shows_the_fingerprint_and_export_time(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    write_jsonl(source, [{k: v for k, v in r.items() if k != "corrected_response"} for r in sample_records()])
    db_path = str(tmp_path / "cli.duckdb")
    assert main(["import", str(source), "--db", db_path]) == 0
    capsys.readouterr()
    assert main(["export", "--db", db_path, "--format", "native", "--out", str(tmp_path / "set")]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["exported_by"] is None                     # the CLI was not told --by
    version = next(line for line in printed.splitlines() if line.strip().startswith("version:"))
    assert f"labels {manifest['label_state']['fingerprint'][:12]}" in version
    assert f"exported {manifest['exported_at']}" in version and " by " not in version
    assert f"schema: {tmp_path / 'set' / 'schema.yaml'}" in printed


def test_the_export_page_shows_the_version_of_the_export_just_made_and_earlier_ones(page, filled):
    at = export_now(page)
    newest = list_exports(filled, "default")[0]
    manifest = json.loads((Path(newest["out_path"]) / "manifest.json").read_text(encoding="utf-8"))
    short = manifest["label_state"]["fingerprint"][:12]
    versions = [t.value for t in at.text if t.value.startswith("Version: ")]
    assert len(versions) == 1 and f"labels {short}" in versions[0]
    assert f"exported {manifest['exported_at']} by ana" in versions[0]
    assert "up to annotation a3" in versions[0]
    table = next(d.value for d in at.dataframe if "on_disk" in d.value.columns)
    assert table["labels"].tolist() == [short]
    assert short in at.selectbox(key="export_earlier").options[0]
