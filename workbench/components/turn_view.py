"""A turn's conversation, shown as a chat: earlier turns with the speaker marked, then the response.

Dialog text is user data: it is HTML-escaped before it reaches ``st.html`` (and st.html sanitises
again), so ``<script>``, ``<img onerror>`` and Markdown images show as the characters they are and
never load anything. Newlines are kept with ``white-space: pre-wrap``.
"""
from __future__ import annotations

import html

import streamlit as st

VISIBLE_CONTEXT = 6      # the turns just before this one; earlier ones fold into an expander
SPEAKER_NAMES = {"user": "User", "assistant": "Assistant"}

CHAT_CSS = """<style>
.cc-chat{display:flex;flex-direction:column;gap:.4rem;margin:.1rem 0 .2rem}
.cc-msg{max-width:88%;padding:.45rem .75rem;border-radius:.7rem;white-space:pre-wrap;word-break:break-word;
  font-size:.95rem;line-height:1.45;border:1px solid transparent}
.cc-msg .cc-who{display:block;font-size:.68rem;font-weight:700;letter-spacing:.06em;text-transform:uppercase;
  opacity:.65;margin-bottom:.1rem}
.cc-user{align-self:flex-start;background:#eef2ff;border-color:#c7d2fe}
.cc-assistant{align-self:flex-end;background:#f1f5f9;border-color:#e2e8f0}
.cc-response{align-self:flex-end;background:#ecfdf5;border-color:#a7f3d0;max-width:92%}
.cc-none{color:#64748b;font-style:italic;font-size:.85rem}
</style>"""


def message_html(speaker: str, text: str, *, css_class: str | None = None, who: str | None = None) -> str:
    """One chat bubble; ``text`` and ``speaker`` are escaped here, so callers pass raw user data."""
    kind = css_class or ("cc-assistant" if speaker == "assistant" else "cc-user")
    label = who or SPEAKER_NAMES.get(speaker, speaker)
    return (f'<div class="cc-msg {kind}" data-speaker="{html.escape(speaker, quote=True)}">'
            f'<span class="cc-who">{html.escape(label)}</span>{html.escape(text or "")}</div>')


def chat_html(messages: list[dict]) -> str:
    bubbles = "".join(message_html(m.get("speaker", "user"), m.get("text", "")) for m in messages)
    return f'{CHAT_CSS}<div class="cc-chat">{bubbles}</div>'


def render_context(context: list[dict]) -> None:
    """Earlier turns of the conversation, oldest first; the last few always visible."""
    if not context:
        st.html(f'{CHAT_CSS}<div class="cc-none">Start of the conversation.</div>')
        return
    older, recent = context[:-VISIBLE_CONTEXT], context[-VISIBLE_CONTEXT:]
    if older:
        with st.expander(f"{len(older)} earlier turn(s)"):  # md-safe: a count
            st.html(chat_html(older))
    st.html(chat_html(recent))


def render_response(response: str | None) -> None:
    """The assistant's reply to the turn being labelled (what 'response fit' judges). A blank one counts
    as none, as the form's ``has_response`` does: an empty bubble would ask for a fit the form does not."""
    if not (response or "").strip():
        st.html(f'{CHAT_CSS}<div class="cc-none">No assistant response recorded for this turn.</div>')
        return
    st.html(f'{CHAT_CSS}<div class="cc-chat">'
            f'{message_html("assistant", response, css_class="cc-response", who="Assistant response")}</div>')
