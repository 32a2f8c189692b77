"""Workbench users: a name, a role, an argon2 password hash, and whether they may sign in.

Passwords are hashed with argon2-cffi (the reference Argon2id binding), never hand-rolled. A hash
made with older parameters is upgraded transparently at the next successful sign-in. Verifying an
unknown user still spends one hash, so response time does not reveal which names exist.
"""
from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROLES = ("annotator", "analyst", "admin")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
# Spent on unknown names so a miss costs the same as a wrong password.
_DUMMY_HASH = _hasher.hash("concord-dummy-password")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")


def _check_username(username: str) -> None:
    if not isinstance(username, str) or not USERNAME_PATTERN.match(username):
        raise ValueError(
            f"username must be 1-64 characters of letters, digits, '_', '.', '@', '-' "
            f"(starting with a letter or digit), got {username!r}"
        )


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        got = len(password) if isinstance(password, str) else type(password).__name__
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters, got {got}")


def add_user(db, username: str, role: str, password: str, *, replace: bool = False) -> None:
    """Create a user (or, with ``replace=True``, reset an existing user's role and password)."""
    _check_username(username)
    _check_role(role)
    _check_password(password)
    password_hash = _hasher.hash(password)

    def insert(con):
        exists = con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone()
        if exists and not replace:
            raise ValueError(f"user {username!r} exists already (pass replace=True to reset it)")
        if exists:
            con.execute(
                "UPDATE users SET role = ?, password_hash = ?, active = true WHERE username = ?",
                [role, password_hash, username],
            )
        else:
            con.execute(
                "INSERT INTO users (username, role, password_hash) VALUES (?, ?, ?)",
                [username, role, password_hash],
            )

    db.write(insert)


def verify_password(db, username: str, password: str) -> str | None:
    """The user's role when the name and password match an active user, else None."""
    row = db.query_one(
        "SELECT role, password_hash, active FROM users WHERE username = ?", [username]
    ) if isinstance(username, str) else None
    if row is None:
        _spend_one_hash(password)
        return None
    role, password_hash, active = row
    try:
        _hasher.verify(password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if not active:
        return None
    if _hasher.check_needs_rehash(password_hash):
        new_hash = _hasher.hash(password)
        db.write(lambda con: con.execute(
            "UPDATE users SET password_hash = ? WHERE username = ?", [new_hash, username]))
    return role


def _spend_one_hash(password: str) -> None:
    try:
        _hasher.verify(_DUMMY_HASH, password or "")
    except VerificationError:
        pass


def get_user(db, username: str) -> dict | None:
    """``{"username", "role", "active", "created_at"}`` or None; used to re-check a session's role."""
    rows = db.query_dicts(
        "SELECT username, role, active, created_at FROM users WHERE username = ?", [username]
    )
    return rows[0] if rows else None


def list_users(db) -> list[dict]:
    """All users without their hashes, by name."""
    return db.query_dicts("SELECT username, role, active, created_at FROM users ORDER BY username")


def set_active(db, username: str, active: bool) -> None:
    """Disable (or re-enable) a user; a disabled user cannot sign in and open sessions lose access."""
    def update(con):
        found = con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone()
        if not found:
            raise ValueError(f"no user named {username!r}")
        con.execute("UPDATE users SET active = ? WHERE username = ?", [bool(active), username])

    db.write(update)


def set_role(db, username: str, role: str) -> None:
    """Change a user's role; open sessions pick it up on their next page load."""
    _check_role(role)

    def update(con):
        found = con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone()
        if not found:
            raise ValueError(f"no user named {username!r}")
        con.execute("UPDATE users SET role = ? WHERE username = ?", [role, username])

    db.write(update)


def count_users(db) -> int:
    return db.query_one("SELECT count(*) FROM users")[0]
