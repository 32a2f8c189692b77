"""Keep a signed-in session across page reloads: a random token in a cookie, known only to this server.

Streamlit starts a new session on every reload, so without this an annotator would be signed out by
F5. The token is 256 random bits that map to a user only in this server process's memory
(``auth._tokens``): a restart signs everyone out, signing out forgets the token, and idle tokens
expire like sessions. The cookie is written by a tiny inline component (JavaScript can set cookies;
Python can only read them, through ``st.context.cookies``), SameSite=Strict, Secure under https.
"""
from __future__ import annotations

import streamlit as st

COOKIE_NAME = "concord_session"

_JS = """
export default function ({ data }) {
  if (!data || !data.name) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  const value = data.value ? encodeURIComponent(data.value) : "";
  document.cookie = `${data.name}=${value}; Path=/; Max-Age=${data.max_age}; SameSite=Strict${secure}`;
}
"""

_mount = st.components.v2.component("concord_session_cookie", js=_JS)


def read_token() -> str | None:
    try:
        return st.context.cookies.get(COOKIE_NAME) or None
    except Exception:  # no browser behind this session (AppTest, bare mode)
        return None


def write_token(token: str, max_age_s: int) -> None:
    _mount(key="session-cookie", data={"name": COOKIE_NAME, "value": token, "max_age": int(max_age_s)},
           height=0, width="content")


def clear_token() -> None:
    _mount(key="session-cookie-clear", data={"name": COOKIE_NAME, "value": "", "max_age": 0},
           height=0, width="content")
