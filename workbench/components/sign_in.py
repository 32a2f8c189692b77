"""The sign-in form: what every visitor without a session sees, whichever page URL they opened."""
from __future__ import annotations

import streamlit as st

from store import users
from workbench import auth


def render_sign_in(db) -> None:
    from workbench.components.session_cookie import clear_token, read_token

    if read_token():
        clear_token()          # a stale reload token (signed out, expired or from an earlier server)
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Concord")
        st.caption("Label dialog turns: intents, entity spans, sentiment and response fit.")
        notice = auth.pop_notice()
        if notice:
            st.info(notice)  # md-safe: auth's own fixed sentences
        with st.form("sign_in"):
            username = st.text_input("User name", key="sign_in_user", autocomplete="username")
            password = st.text_input("Password", type="password", key="sign_in_password",
                                     autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary")
        if submitted:
            try_sign_in(db, username, password)
        if users.count_users(db) == 0:
            st.info("No users yet. Create the first admin on the server:")
            st.code("concord user add NAME --role admin", language="bash")


def try_sign_in(db, username: str, password: str) -> None:
    try:
        user = auth.sign_in(db, username, password)
    except PermissionError as exc:
        st.error(str(exc))  # md-safe: auth's throttle sentence (numbers only)
        return
    if user is None:
        st.error("Unknown user name or wrong password.")
        return
    st.rerun()
