"""Admin page: who may sign in, and with which role (the browser twin of ``concord user add``)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from store import users
from workbench import auth, runtime
from workbench.components.notice import notice


def render_add(db) -> None:
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add or reset a user**")
        name = st.text_input("User name")
        role = st.selectbox("Role", users.ROLES)
        password = st.text_input("Password", type="password",
                                 help=f"At least {users.MIN_PASSWORD_LENGTH} characters.")
        replace = st.checkbox("Reset if the user exists")
        if st.form_submit_button("Save", type="primary"):
            try:
                users.add_user(db, name.strip(), role, password, replace=replace)
            except ValueError as exc:
                st.session_state["users_flash"] = ("error", str(exc))
            else:
                st.session_state["users_flash"] = ("success", f"Saved {name.strip()!r} as {role}.")
            st.rerun()


def render_edit(db, me: auth.User, listing: list[dict]) -> None:
    others = [u["username"] for u in listing if u["username"] != me.username]
    if not others:
        return
    with st.form("edit_user"):
        st.markdown("**Change a user** (you cannot lock yourself out here)")
        name = st.selectbox("User", others)
        role = st.selectbox("Role", users.ROLES, key="edit_role")
        active = st.toggle("May sign in", value=True)
        if st.form_submit_button("Apply"):
            users.set_role(db, name, role)
            users.set_active(db, name, active)
            st.session_state["users_flash"] = ("success", f"{name!r}: {role}, {'active' if active else 'disabled'}.")
            st.rerun()


def main() -> None:
    settings = runtime.parse_settings()
    db = runtime.get_store(settings.db_path)
    me = auth.require_role(db, ("admin",))
    st.header("Users")
    kind, message = st.session_state.pop("users_flash", (None, None))
    if message:
        notice(kind, message)
    listing = users.list_users(db)
    st.dataframe(pd.DataFrame(listing), hide_index=True, width="stretch")
    left, right = st.columns(2)
    with left:
        render_add(db)
    with right:
        render_edit(db, me, listing)


if __name__ == "__main__":
    main()
