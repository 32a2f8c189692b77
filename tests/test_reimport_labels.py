"""Re-importing corrected labels: a known turn with new labels gets a new label version, not a skip.

Labels fixed offline (the Prodigy / Label Studio way) come back by importing the file again; before,
the content hash matched and the corrections were dropped as "duplicates" with exit code 0.
"""
import json

from store import annotations, importer, labels
from store.effective import effective_labels

TURN = {"id": "g1", "conversation_id": "c", "turn_index": 0, "text": "refund order 12345", "response": "Done.",
        "intents": ["refund"], "entities": [{"start": 13, "end": 18, "label": "order_id"}], "sentiment": "neutral"}
OTHER = {"id": "g2", "conversation_id": "c", "turn_index": 2, "text": "where is my parcel", "intents": ["shipping"]}


def jsonl(path, *records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def current(db, turn_id="g1") -> dict:
    row = effective_labels(db).set_index("turn_id").loc[turn_id]
    return {"intents": list(row["intents"]), "sentiment": row["sentiment"], "source": row["label_source"]}


def test_changed_labels_become_a_new_version_and_the_same_file_again_changes_nothing(db, tmp_path):
    assert importer.import_files(db, [jsonl(tmp_path / "a.jsonl", TURN, OTHER)]).ok
    fixed = dict(TURN, intents=["cancel"], sentiment="negative")
    report = importer.import_files(db, [jsonl(tmp_path / "fixed.jsonl", fixed, OTHER)])
    assert report.ok, report.summary()
    assert (report.n_turns, report.n_relabelled, report.n_duplicates) == (0, 1, 1)
    assert report.summary() == ("imported 0 turn(s) from 1 file(s); updated labels on 1 existing turn(s); "
                                "1 duplicate(s) skipped")
    assert current(db) == {"intents": ["cancel"], "sentiment": "negative", "source": "imported"}
    assert db.query_one("SELECT count(*) FROM turns")[0] == 2
    roles = db.query("SELECT role, intents FROM imported_labels WHERE turn_id = 'g1' ORDER BY role")
    assert roles == [("gold", ["cancel"]), ("gold-superseded", ["refund"])]   # the first version is kept

    again = importer.import_files(db, [tmp_path / "fixed.jsonl"])
    assert (again.n_turns, again.n_relabelled, again.n_duplicates) == (0, 0, 2)
    assert db.query_one("SELECT count(*) FROM imported_labels")[0] == 3


def test_a_record_without_id_updates_the_turn_with_its_content(db, tmp_path):
    assert importer.import_files(db, [jsonl(tmp_path / "a.jsonl", TURN)]).ok
    no_id = {k: v for k, v in TURN.items() if k != "id"}
    report = importer.import_files(db, [jsonl(tmp_path / "b.jsonl", dict(no_id, intents=["complaint"]))])
    assert (report.n_turns, report.n_relabelled) == (0, 1)
    assert current(db)["intents"] == ["complaint"]
    assert db.query("SELECT turn_id FROM turns") == [("g1",)]


def test_another_id_with_the_same_content_is_a_duplicate_that_names_the_turn(db, tmp_path):
    assert importer.import_files(db, [jsonl(tmp_path / "a.jsonl", TURN)]).ok
    report = importer.import_files(db, [jsonl(tmp_path / "b.jsonl", dict(TURN, id="x9", intents=["cancel"]))])
    assert (report.n_turns, report.n_relabelled, report.n_duplicates) == (0, 0, 1)
    assert "same content as turn 'g1'" in report.duplicates[0] and "labels were not applied" in report.duplicates[0]
    assert current(db)["intents"] == ["refund"]


def test_records_without_labels_or_with_ignored_labels_stay_duplicates(db, tmp_path):
    assert importer.import_files(db, [jsonl(tmp_path / "a.jsonl", TURN)]).ok
    bare = {k: TURN[k] for k in ("id", "text", "response")}
    assert importer.import_files(db, [jsonl(tmp_path / "b.jsonl", bare)]).n_duplicates == 1
    ignored = importer.import_files(db, [jsonl(tmp_path / "c.jsonl", dict(TURN, intents=["x"]))], labels="ignore")
    assert (ignored.n_relabelled, ignored.n_duplicates) == (0, 1)
    assert current(db)["intents"] == ["refund"]


def test_annotators_labels_still_decide_and_the_summary_says_so(db, tmp_path):
    assert importer.import_files(db, [jsonl(tmp_path / "a.jsonl", TURN)]).ok
    annotations.submit(db, annotation_id="a1", turn_id="g1", project="default", annotator="ann",
                       intents=["shipping"], sentiment="positive")
    report = importer.import_files(db, [jsonl(tmp_path / "b.jsonl", dict(TURN, intents=["cancel"]))])
    assert (report.n_relabelled, report.n_relabelled_held) == (1, 1)
    assert "1 of the updated turn(s) have labels from annotators or a reviewer" in report.summary()
    assert "human labels still decide" in report.relabelled[0]
    assert current(db) == {"intents": ["shipping"], "sentiment": "positive", "source": "human"}
    assert db.query_one("SELECT intents FROM imported_labels WHERE role = 'gold'")[0] == ["cancel"]
    # the same file again, or a file that says what the annotator said, records nothing new
    assert importer.import_files(db, [tmp_path / "b.jsonl"]).n_relabelled == 0
    agreeing = dict(TURN, intents=["shipping"], sentiment="positive", entities=[])
    assert importer.import_files(db, [jsonl(tmp_path / "c.jsonl", agreeing)]).n_relabelled == 0
    annotations.adjudicate(db, annotation_id="r1", turn_id="g1", project="default", reviewer="rev", intents=["refund"])
    late = importer.import_files(db, [jsonl(tmp_path / "d.jsonl", dict(TURN, intents=["other"]))])
    assert late.n_relabelled_held == 1 and current(db)["intents"] == ["refund"]


def test_a_problem_anywhere_keeps_the_old_labels(db, tmp_path):
    assert importer.import_files(db, [jsonl(tmp_path / "a.jsonl", TURN, OTHER)]).ok
    before = db.query("SELECT * FROM imported_labels ORDER BY turn_id, role")
    clash = dict(OTHER, text="another text entirely")           # g2 reused with other content: an error
    report = importer.import_files(db, [jsonl(tmp_path / "b.jsonl", dict(TURN, intents=["cancel"]), clash)])
    assert not report.ok and "nothing was imported" in report.summary()
    assert db.query("SELECT * FROM imported_labels ORDER BY turn_id, role") == before
    assert current(db)["intents"] == ["refund"]


def test_renamed_labels_compare_by_todays_name(db, tmp_path):
    assert importer.import_files(db, [jsonl(tmp_path / "a.jsonl", TURN)]).ok
    labels.rename_label(db, "default", "intent", "refund", "money_back")
    same = importer.import_files(db, [jsonl(tmp_path / "b.jsonl", dict(TURN, intents=["money_back"]))])
    assert (same.n_relabelled, same.n_duplicates) == (0, 1)


def test_suggestions_are_updated_as_suggestions(db, tmp_path):
    from store import turns

    assert importer.import_files(db, [jsonl(tmp_path / "a.jsonl", TURN)], labels="suggestions").ok
    report = importer.import_files(db, [jsonl(tmp_path / "b.jsonl", dict(TURN, intents=["cancel"]))],
                                   labels="suggestions")
    assert report.n_relabelled == 1
    assert turns.get_turn(db, "g1")["suggestion"]["intents"] == ["cancel"]
    assert effective_labels(db).empty


def read_native(folder):
    files = sorted(folder.glob("*.jsonl"))
    return {r["id"]: r for f in files for r in map(json.loads, f.read_text(encoding="utf-8").splitlines())}


def test_export_import_fix_reimport_export_through_the_cli(tmp_path, capsys):
    from workbench.cli import main

    first, fresh = str(tmp_path / "first.duckdb"), str(tmp_path / "fresh.duckdb")
    assert main(["import", str(jsonl(tmp_path / "src.jsonl", TURN, OTHER)), "--db", first]) == 0
    assert main(["export", "--db", first, "--format", "native", "--out", str(tmp_path / "out1")]) == 0
    exported = read_native(tmp_path / "out1")
    relabel = tmp_path / "relabel.jsonl"
    relabel.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in exported.values()), encoding="utf-8")
    assert main(["import", str(relabel), "--db", fresh]) == 0
    exported["g1"].update(intents=["cancel"], sentiment="negative")
    relabel.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in exported.values()), encoding="utf-8")
    capsys.readouterr()
    assert main(["import", str(relabel), "--db", fresh]) == 0
    out = capsys.readouterr().out
    assert "imported 0 turn(s) from 1 file(s); updated labels on 1 existing turn(s); 1 duplicate(s) skipped" in out
    assert "labels updated: " in out and "turn 'g1'" in out
    assert main(["export", "--db", fresh, "--format", "native", "--out", str(tmp_path / "out2")]) == 0
    after = read_native(tmp_path / "out2")
    assert (after["g1"]["intents"], after["g1"]["sentiment"]) == (["cancel"], "negative")
    assert after["g2"]["intents"] == ["shipping"]
    capsys.readouterr()
    assert main(["import", str(relabel), "--db", fresh]) == 0                # unchanged file: nothing changes
    assert "imported 0 turn(s) from 1 file(s); 2 duplicate(s) skipped" in capsys.readouterr().out
    assert main(["export", "--db", fresh, "--format", "native", "--out", str(tmp_path / "out3")]) == 0
    assert read_native(tmp_path / "out3") == after
