"""store.users (argon2 hashes, roles, disabling) and the `concord user` / `concord serve` command lines."""
from __future__ import annotations

import io

import pytest

from store import users
from workbench import cli, runtime
from workbench.commands_serve import build_streamlit_command
from workbench.commands_users import ROLES


def test_add_and_verify_with_argon2_hashes(db):
    users.add_user(db, "ann", "annotator", "correct horse")
    stored = db.query_one("SELECT password_hash FROM users WHERE username = 'ann'")[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert users.verify_password(db, "ann", "correct horse") == "annotator"
    assert users.verify_password(db, "ann", "Correct horse") is None
    assert users.verify_password(db, "nobody", "correct horse") is None


def test_same_password_gives_different_hashes(db):
    users.add_user(db, "a1", "annotator", "same password")
    users.add_user(db, "a2", "annotator", "same password")
    hashes = {row[0] for row in db.query("SELECT password_hash FROM users")}
    assert len(hashes) == 2


@pytest.mark.parametrize("name, role, password, message", [
    ("ann", "boss", "long enough", "role must be one of"),
    ("", "admin", "long enough", "username must be"),
    ("has space", "admin", "long enough", "username must be"),
    ("ann", "admin", "short", "at least 8 characters, got 5"),
])
def test_add_user_validates_with_expected_and_actual(db, name, role, password, message):
    with pytest.raises(ValueError, match=message):
        users.add_user(db, name, role, password)


def test_existing_user_is_kept_unless_replaced(db):
    users.add_user(db, "ann", "annotator", "first password")
    with pytest.raises(ValueError, match="exists already"):
        users.add_user(db, "ann", "admin", "second password")
    users.add_user(db, "ann", "admin", "second password", replace=True)
    assert users.verify_password(db, "ann", "second password") == "admin"
    assert users.verify_password(db, "ann", "first password") is None


def test_disabled_users_cannot_sign_in_and_roles_can_change(db):
    users.add_user(db, "ann", "annotator", "password1")
    users.set_active(db, "ann", False)
    assert users.verify_password(db, "ann", "password1") is None
    users.set_active(db, "ann", True)
    users.set_role(db, "ann", "analyst")
    assert users.verify_password(db, "ann", "password1") == "analyst"
    assert [u["username"] for u in users.list_users(db)] == ["ann"]
    assert "password_hash" not in users.list_users(db)[0]
    with pytest.raises(ValueError, match="no user named 'bob'"):
        users.set_active(db, "bob", False)


def test_old_parameters_are_rehashed_on_sign_in(db, monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user(db, "ann", "annotator", "password1")
    weak = db.query_one("SELECT password_hash FROM users")[0]
    monkeypatch.setattr(users, "_hasher", PasswordHasher())
    assert users.verify_password(db, "ann", "password1") == "annotator"
    assert db.query_one("SELECT password_hash FROM users")[0] != weak


def test_cli_roles_match_the_store():
    assert ROLES == users.ROLES


def test_concord_user_add_reads_the_password_from_stdin(tmp_path, monkeypatch, capsys):
    path = tmp_path / "cli.duckdb"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    assert cli.main(["user", "add", "ann", "--role", "annotator", "--db", str(path), "--password-stdin"]) == 0
    monkeypatch.setenv("ADMIN_PW", "admin-pass-1")
    assert cli.main(["user", "add", "boss", "--role", "admin", "--db", str(path), "--password-env", "ADMIN_PW"]) == 0
    assert cli.main(["user", "disable", "ann", "--db", str(path)]) == 0
    capsys.readouterr()
    assert cli.main(["user", "list", "--db", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == ["ann\tannotator  (disabled)", "boss\tadmin"]
    from store import Store

    with Store(path) as db:
        assert users.verify_password(db, "boss", "admin-pass-1") == "admin"
        assert users.verify_password(db, "ann", "s3cret-pass") is None


def test_concord_user_add_errors_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["user", "add", "ann", "--role", "annotator", "--db", str(tmp_path / "x.duckdb"),
                     "--password-stdin"]) == 2
    assert "concord: error: password must be at least 8 characters, got 5" in capsys.readouterr().err
    assert cli.main(["user", "add", "ann", "--role", "annotator", "--db", str(tmp_path / "x.duckdb"),
                     "--password-env", "NOT_SET_ANYWHERE"]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["user", "add", "ann", "--role", "annotator", "--db", str(tmp_path / "x.duckdb")]) == 2
    assert "no terminal to prompt on" in capsys.readouterr().err


def test_serve_command_passes_the_database_to_the_app(tmp_path):
    argv = build_streamlit_command(tmp_path / "w.duckdb", port=8642, project="p1", python="python")
    assert argv[:4] == ["python", "-m", "streamlit", "run"] and argv[4].endswith("workbench/app.py")
    assert "--server.port=8642" in argv and "--server.headless=true" in argv
    script_args = argv[argv.index("--") + 1:]
    assert runtime.parse_settings(script_args, {}) == runtime.Settings(str(tmp_path / "w.duckdb"), "p1")


def test_serve_refuses_a_missing_database(tmp_path, capsys):
    assert cli.main(["serve", "--db", str(tmp_path / "none.duckdb"), "--no-worker"]) == 2
    assert "no such database" in capsys.readouterr().err
