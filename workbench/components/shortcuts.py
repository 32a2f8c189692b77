"""The label page's keyboard map: one table that drives both the handlers and the help panel.

Every key is caught by the span selector's JavaScript (it listens on the page and ignores keys typed
into text boxes) and reaches Python as one ordered log, so fast typing never loses or reorders a key.
The buttons show the same keys for mouse users.
"""
from __future__ import annotations

import html

import streamlit as st

SUBMIT = "Enter"
SKIP = "S"
UNDO = "U"
FLAG = "F"
ACCEPT = "A"
GUIDELINES = "?"                  # opens / closes the guidelines next to the form (Shift + / on US layouts)
SENTIMENT_KEYS = "qwety"          # in the schema's sentiment order; R and C are Streamlit's own keys
ALIGNED_KEY = "g"
MISALIGNED_KEY = "m"
SEARCH_INTENTS_KEY = "/"
CORRECT_RESPONSE_KEY = "c"
QUICK_INTENTS = 10                # digits 1..9 then 0


IGNORED = "ignored"                 # a command the page takes and does nothing with


def command_keys(*, judges_fit: bool = True) -> dict[str, str]:
    """key -> page command, handled through the span selector's ordered key log. On a turn without a
    response (``judges_fit`` False) G, M and C are taken and ignored: there is no fit to set and no
    correction box to focus, and a key the selector lets through reaches Streamlit (C is its clear-cache key)."""
    keys = {SUBMIT: "submit", SKIP.lower(): "skip", UNDO.lower(): "undo", FLAG.lower(): "flag",
            ACCEPT.lower(): "accept", GUIDELINES: "guidelines"}
    if not judges_fit:
        keys.update(dict.fromkeys((ALIGNED_KEY, MISALIGNED_KEY, CORRECT_RESPONSE_KEY), IGNORED))
    return keys


def button_label(text: str, key: str) -> str:
    return f"{text}  ·  {key}"


def sentiment_keys(sentiments: list[str]) -> dict[str, str]:
    """key -> sentiment class, for as many classes as there are keys."""
    return dict(zip(SENTIMENT_KEYS, sentiments))


def alignment_keys() -> dict[str, bool]:
    return {ALIGNED_KEY: True, MISALIGNED_KEY: False}


def quick_intents(schema_intents: list[str]) -> list[str]:
    """The intents that get digit keys, in key order: the schema's first ones, in the schema's order
    (which the admin controls), so a key means the same intent in every session and for everyone."""
    return list(schema_intents[:QUICK_INTENTS])


def quick_intent_key(position: int) -> str | None:
    """The digit that toggles the intent at ``position`` of the quick list (1..9, then 0), or None."""
    if position < 9:
        return str(position + 1)
    return "0" if position == 9 else None


def digit_range(n: int) -> str:
    """The digit keys of ``n`` quick intents as the help shows them, e.g. ``1 … 9, 0`` or ``1 … 4``."""
    keys = [quick_intent_key(i) for i in range(min(n, QUICK_INTENTS))]
    if len(keys) <= 2:
        return ", ".join(keys) or "—"
    return "1 … 9, 0" if len(keys) == QUICK_INTENTS else f"1 … {keys[-1]}"


def quick_intent_rows(quick: list[str]) -> list[tuple[str, str]]:
    """One (key, intent) row per digit, like the rest of the grid: run together on one line the
    pairs wrapped so that a name read as belonging to the next digit."""
    if not quick:
        return [("1 … 9, 0", "toggle an intent: no intents in the schema yet")]
    head = (digit_range(len(quick)), "toggle an intent, in the schema's order (numbered in the intent box):")
    return [head, *((quick_intent_key(i), name) for i, name in enumerate(quick))]


def shortcut_rows(sentiments: list[str], quick: list[str] = ()) -> list[tuple[str, str]]:
    pairs = sentiment_keys(sentiments)
    sentiment_keys_text = " ".join(k.upper() for k in pairs)
    sentiment_help = "sentiment: " + " · ".join(pairs.values())
    return [
        *quick_intent_rows(list(quick)),
        (SEARCH_INTENTS_KEY, "search all intents; Enter picks the highlighted one and returns to the page "
                             "(/ again for another), Esc returns without picking"),
        ("← →", "move the caret in the turn text (Ctrl/Alt: by word; Home/End)"),
        ("Shift + ← →", "select text (or drag with the mouse)"),
        ("1 … 9", "with a selection: mark it as that entity type (replaces spans it overlaps)"),
        ("Backspace / Del", "remove the span before / under the caret"),
        ("Esc", "clear the selection, leave a text box"),
        (sentiment_keys_text or "—", sentiment_help),
        (f"{ALIGNED_KEY.upper()} / {MISALIGNED_KEY.upper()}", "response aligned / misaligned (turns with a response)"),
        (CORRECT_RESPONSE_KEY.upper(), "write a corrected response (turns with a response)"),
        (ACCEPT, "accept the suggestion (what its banner shows in bold)"),
        (SUBMIT, "submit and go to the next turn"),
        (SKIP, "skip this turn"),
        (FLAG, "flag this turn for review (again: take the flag back)"),
        (UNDO, "undo your last submit: its turn comes back with what you submitted "
               "(older ones: Edit in My recent labels)"),
        (GUIDELINES, "show / hide the guidelines and what each intent means"),
    ]


def render_shortcuts_help(sentiments: list[str], quick: list[str] = ()) -> None:
    """A compact key / action grid (escaped: intent and sentiment names come from the schema)."""
    rows = "".join(
        f"<div class='cc-k'><kbd>{html.escape(keys)}</kbd></div><div class='cc-v'>{html.escape(what)}</div>"
        for keys, what in shortcut_rows(sentiments, quick)
    )
    st.html(
        "<style>.cc-keys{display:grid;grid-template-columns:minmax(0,40%) 1fr;gap:.2rem .5rem;font-size:.78rem;"
        "line-height:1.3;align-items:baseline}.cc-keys kbd{font-family:var(--st-code-font,monospace);"
        "font-size:.7rem;padding:.02rem .3rem;border:1px solid #cbd5e1;"
        "border-bottom-width:2px;border-radius:.25rem;background:#f8fafc}</style>"
        f"<div class='cc-keys'>{rows}</div>"
    )
