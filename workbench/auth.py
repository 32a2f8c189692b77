"""Who is signed in, checked on the server for every page, every run.

The browser holds nothing but Streamlit's session id; the signed-in user lives in server-side session
state. Every page calls ``require_role`` first: it re-reads the user from the database (so a disabled
user or a changed role takes effect on the next click), enforces the idle timeout, and stops the
script for anyone not allowed. Failed sign-ins are throttled per user name.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

import streamlit as st

from store import users
from workbench import runtime

SESSION_KEY = "concord_auth"
NOTICE_KEY = "concord_auth_notice"
ALL_ROLES = users.ROLES
MAX_FAILURES = 5
LOCKOUT_S = 30.0
RECHECK_S = 1.0      # re-read the user's role and active flag at most this often per session

_failures: dict[str, tuple[int, float]] = {}   # username -> (consecutive failures, time of the last)
_failures_lock = threading.Lock()
_tokens: dict[str, dict] = {}                   # reload token -> {"username", "last_seen"} (this process only)
_tokens_lock = threading.Lock()


@dataclass(frozen=True)
class User:
    username: str
    role: str

    def can(self, *roles: str) -> bool:
        return self.role in roles


def _locked_out(username: str, now: float) -> float:
    """Seconds left before ``username`` may try again (0 when not locked out)."""
    with _failures_lock:
        count, last = _failures.get(username, (0, 0.0))
    if count < MAX_FAILURES:
        return 0.0
    return max(0.0, LOCKOUT_S - (now - last))


def _record_attempt(username: str, ok: bool, now: float) -> None:
    with _failures_lock:
        if ok:
            _failures.pop(username, None)
        else:
            count, _ = _failures.get(username, (0, 0.0))
            _failures[username] = (count + 1, now)


def sign_in(db, username: str, password: str, *, now: float | None = None) -> User | None:
    """Check the password and open a session. Raises ``PermissionError`` while throttled."""
    now = time.time() if now is None else now
    username = (username or "").strip()
    wait = _locked_out(username, now)
    if wait > 0:
        raise PermissionError(f"Too many failed attempts for this user name; try again in {wait:.0f} s.")
    role = users.verify_password(db, username, password or "")
    _record_attempt(username, role is not None, now)
    if role is None:
        return None
    token = secrets.token_urlsafe(32)
    with _tokens_lock:
        _tokens[token] = {"username": username, "last_seen": now}
    st.session_state[SESSION_KEY] = {"username": username, "role": role, "signed_in_at": now, "last_seen": now,
                                     "token": token}
    return User(username, role)


def _restore_from_cookie(now: float) -> dict | None:
    """A session for this browser's reload token, if the token is known here and not idle too long."""
    from workbench.components.session_cookie import read_token

    token = read_token()
    if not token:
        return None
    with _tokens_lock:
        entry = _tokens.get(token)
        if entry is None or now - entry["last_seen"] > runtime.session_idle_seconds():
            _tokens.pop(token, None)
            return None
    session = {"username": entry["username"], "role": "", "signed_in_at": now, "last_seen": now, "token": token}
    st.session_state[SESSION_KEY] = session
    return session


def sign_out(notice: str | None = None) -> None:
    session = st.session_state.pop(SESSION_KEY, None) or {}
    with _tokens_lock:
        _tokens.pop(session.get("token"), None)
    for key in [k for k in st.session_state.keys() if str(k).startswith("label")]:
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice


def current_user(db, *, now: float | None = None) -> User | None:
    """The signed-in user, re-validated against the database and the idle timeout; else None."""
    now = time.time() if now is None else now
    session = st.session_state.get(SESSION_KEY) or _restore_from_cookie(now)
    if not session:
        return None
    if now - session.get("last_seen", 0) > runtime.session_idle_seconds():
        sign_out("Your session expired after a period of inactivity. Please sign in again.")
        return None
    if now - session.get("checked_at", 0) < RECHECK_S:   # the app script and its page in one run
        session["last_seen"] = now
        return User(session["username"], session["role"])
    record = users.get_user(db, session["username"])
    if record is None or not record["active"]:
        sign_out("Your account is no longer active.")
        return None
    session["last_seen"] = session["checked_at"] = now
    session["role"] = record["role"]
    with _tokens_lock:
        if session.get("token") in _tokens:
            _tokens[session["token"]]["last_seen"] = now
    return User(record["username"], record["role"])


def require_role(db, roles: tuple[str, ...] = ALL_ROLES) -> User:
    """The current user if their role is in ``roles``; otherwise explain and stop this script run."""
    user = current_user(db)
    if user is None:
        from workbench.components.sign_in import render_sign_in

        render_sign_in(db)
        st.stop()
    render_account(user)
    if not user.can(*roles):
        st.error(f"This page is for {', '.join(roles)} users; you are signed in as {user.role}.")  # md-safe: role names are constants
        st.stop()
    return user


def render_account(user: User) -> None:
    """Who is signed in, and the way out (drawn by every page's role check)."""
    from workbench.components.session_cookie import write_token

    with st.sidebar:
        token = (st.session_state.get(SESSION_KEY) or {}).get("token")
        if token:
            write_token(token, runtime.session_idle_seconds())
        st.caption(f"Signed in as **{user.username}** ({user.role})")  # md-safe: names match users.USERNAME_PATTERN
        if st.button("Sign out", key="sign_out", icon=":material/logout:"):
            sign_out("You signed out.")
            st.rerun()


def pop_notice() -> str | None:
    return st.session_state.pop(NOTICE_KEY, None)
