"""Outcome messages that may quote data (turn ids, label names, store errors), shown as plain text.

Streamlit's alerts render Markdown, so a message quoting a turn id or a label name taken from an
imported file could load an image or a link. These boxes look like alerts but are escaped HTML.
"""
from __future__ import annotations

import html

import streamlit as st

STYLES = {
    "success": ("#ecfdf5", "#a7f3d0", "#065f46"),
    "info": ("#eff6ff", "#bfdbfe", "#1e40af"),
    "warning": ("#fffbeb", "#fde68a", "#92400e"),
    "error": ("#fef2f2", "#fecaca", "#991b1b"),
}


def notice_html(kind: str, message: str) -> str:
    background, border, color = STYLES.get(kind, STYLES["info"])
    return (f"<div role='status' data-kind='{html.escape(kind, quote=True)}' style='padding:.55rem .8rem;"
            f"border-radius:.5rem;background:{background};border:1px solid {border};color:{color};"
            f"font-size:.92rem;white-space:pre-wrap'>{html.escape(message)}</div>")


def notice(kind: str, message: str, *, where=None) -> None:
    (where or st).html(notice_html(kind, message))
