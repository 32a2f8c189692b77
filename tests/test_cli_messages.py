"""Messages a reviewer of the CLI found unhelpful: a database held by the workbench, demo users that
were silently not created, and a reversed entity span described as lying outside the text."""
import json
import subprocess
import sys

import pytest

from store import importer, users
from workbench.cli import main
from workbench.commands_serve import print_demo_users
from workbench.demo_users import demo_users_file

HOLD_OPEN = "import sys, time; from store import Store; s = Store(sys.argv[1]); print('ready', flush=True); time.sleep(120)"


@pytest.fixture
def held_db(tmp_path, repo_root):
    """A database another process holds open, as ``concord serve`` does; yields (path, holder pid)."""
    path = tmp_path / "c.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_OPEN, str(path)], cwd=repo_root,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield path, holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("argv", [
    ["stats"],
    ["export", "--format", "native", "--out", "OUT"],
    ["user", "add", "bob", "--role", "admin", "--password-env", "CONCORD_TEST_PW"],
])
def test_a_database_held_by_the_workbench_names_the_cause_and_the_way_out(held_db, tmp_path, capsys, monkeypatch, argv):
    path, pid = held_db
    monkeypatch.setenv("CONCORD_TEST_PW", "a-long-password")
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main([*argv, "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} is open in another process (PID {pid}, probably `concord serve`)" in err, err
    assert "DuckDB lets one process hold a database" in err and "Stop the workbench first" in err
    assert "IO Error" not in err and "Traceback" not in err


def test_the_held_database_message_from_the_installed_command(held_db, repo_root):
    path, pid = held_db
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "stats", "--db", str(path)],
                          cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith(f"concord: error: {path} is open in another process (PID {pid}"), done.stderr
    assert "Traceback" not in done.stderr


def test_demo_users_created_earlier_are_printed_with_their_file_again(tmp_path, capsys):
    path = tmp_path / "d.duckdb"
    print_demo_users(path)
    first = capsys.readouterr().out
    print_demo_users(path)
    again = capsys.readouterr().out
    assert again == first and f"Demo sign-ins (also in {demo_users_file(path)}):" in again
    assert [line.split()[0] for line in again.splitlines()[1:]] == ["admin", "analyst", "annotator"]


def test_a_database_with_other_users_says_why_there_are_no_demo_users(db, tmp_path, capsys):
    users.add_user(db, "alice", "admin", "a-long-password")
    db.close()
    print_demo_users(tmp_path / "test.duckdb")
    out = capsys.readouterr().out.strip()
    assert out.startswith("Demo users were not created:") and "already has users" in out, out
    assert "concord user add" in out and len(out.splitlines()) == 1
    assert not demo_users_file(tmp_path / "test.duckdb").exists()


@pytest.mark.parametrize("start, end, words", [(5, 3, "start 5 is after end 3"), (4, 4, "[4, 4) is empty")])
def test_a_reversed_or_empty_span_says_so(db, tmp_path, start, end, words):
    bad = tmp_path / "bad.jsonl"
    turn = {"text": "fourteen chars", "entities": [{"start": start, "end": end, "label": "x"}]}
    bad.write_text(json.dumps(turn) + "\n", encoding="utf-8")
    report = importer.import_files(db, [bad])
    assert not report.ok
    problem = report.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(bad), 1, "entities[0]"), problem
    assert words in problem.message and "not inside the text" not in problem.message, problem.message
