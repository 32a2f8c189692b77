"""The span selector: a bidirectional Streamlit component for entity spans over one turn's text.

Streamlit has no span widget, so this is an inline ``st.components.v2`` component (no iframe, no
build step, no network): ``span_selector/text.js`` (grapheme clusters and words), ``render.js``
(drawing), ``selector.js`` (mouse, keys, state) and ``selector.css`` ship inside the package and are
read once at import; an inline component is one module, so the scripts are joined in that order. Its
JavaScript also owns the page's keyboard (digits, sentiment and alignment keys) because components
v2 run in the app's own document.

Offsets are code points on both sides. The component reports spans as the state
``{"rev": n, "spans": [...]}``; ``rev`` lets Python replace the spans (accept suggestions) without
racing the browser: a state whose ``rev`` is older than the form's is ignored. Keys arrive as the
state ``{"log": [[seq, name, value], ...]}`` (see ``new_actions``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import streamlit as st

ASSET_DIR = Path(__file__).with_name("span_selector")
COMPONENT_NAME = "concord_span_selector"
JS_FILES = ("text.js", "render.js", "selector.js")  # each defines what the later ones use
HTML = (
    '<div class="cc-root"><div class="cc-text" tabindex="0" role="textbox" aria-readonly="true"'
    ' aria-multiline="true" data-testid="cc-text"></div><div class="cc-palette"></div>'
    '<div class="cc-spans"></div></div>'
)

_mount = st.components.v2.component(
    COMPONENT_NAME,
    html=HTML,
    css=(ASSET_DIR / "selector.css").read_text(encoding="utf-8"),
    js="\n".join((ASSET_DIR / name).read_text(encoding="utf-8") for name in JS_FILES),
)


def check_spans(text: str, spans: list[dict], entity_types: list[str] | None = None) -> list[dict]:
    """Validated copies of ``spans`` for ``text``: code-point offsets, 0 <= start < end <= len(text)."""
    checked = []
    for i, span in enumerate(spans or []):
        try:
            start, end, label = int(span["start"]), int(span["end"]), str(span["label"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"spans[{i}]: expected {{start, end, label}}, got {span!r}") from None
        if not 0 <= start < end <= len(text):
            raise ValueError(
                f"spans[{i}]: expected 0 <= start < end <= {len(text)} (code points), got {start}..{end}"
            )
        if entity_types is not None and label not in entity_types:
            raise ValueError(f"spans[{i}]: label {label!r} is not one of {entity_types}")
        checked.append({"start": start, "end": end, "label": label})
    return checked


def spans_from_state(state: Any, *, rev: int, fallback: list[dict]) -> list[dict]:
    """The browser's spans when its state is for revision ``rev``, else ``fallback`` (the form's)."""
    if isinstance(state, dict) and state.get("rev") == rev and isinstance(state.get("spans"), list):
        return [dict(s) for s in state["spans"]]
    return [dict(s) for s in fallback]


def new_actions(state: Any, *, after: int) -> list[tuple[int, str, Any]]:
    """The logged key actions with a sequence number above ``after``, oldest first."""
    log = state.get("log") if isinstance(state, dict) else None
    entries = []
    for entry in log or []:
        if isinstance(entry, (list, tuple)) and len(entry) == 3 and isinstance(entry[0], int) and entry[0] > after:
            entries.append((entry[0], str(entry[1]), entry[2]))
    return sorted(entries, key=lambda e: e[0])


def span_selector(
    text: str,
    *,
    form_id: str,
    spans: list[dict],
    spans_rev: int = 0,
    entity_types: list[str],
    suggested_spans: list[dict] | None = None,
    sentiment_keys: dict[str, str] | None = None,
    alignment_keys: dict[str, bool] | None = None,
    command_keys: dict[str, str] | None = None,
    focus_targets: dict[str, str] | None = None,
    pick_boxes: list[str] | None = None,
    global_keys: bool = True,
    applied_seq: int = 0,
    on_actions: Callable[[], None] | None = None,
    on_spans: Callable[[], None] | None = None,
    key: str | None = None,
):
    """Mount the selector for one form; returns the component result (``.spans``, ``.actions``).

    ``key`` defaults to ``span-<form_id>``: read ``st.session_state[key]`` in callbacks to get the
    states ``{"spans": {"rev", "spans"}, "actions": {"log": [[seq, name, value], ...]}}``.
    ``applied_seq`` is the last logged key Python applied: while the browser has logged later ones a
    rerun is pending, and a key that focuses a box (``focus_targets``, exact widget keys) waits for it.
    ``pick_boxes``: class prefixes of boxes (a search) whose Enter picks and hands the keys back to the page.
    """
    data = {
        "form_id": form_id,
        "text": text,
        "spans": check_spans(text, spans),
        "spans_rev": int(spans_rev),
        "entity_types": list(entity_types),
        "suggested_spans": check_spans(text, suggested_spans or []),
        "sentiment_keys": sentiment_keys or {},
        "alignment_keys": alignment_keys or {},
        "command_keys": command_keys or {},
        "focus_targets": focus_targets or {},
        "pick_boxes": list(pick_boxes or []),
        "global_keys": global_keys,
        "applied_seq": int(applied_seq),
    }
    return _mount(
        key=key or f"span-{form_id}",
        data=data,
        on_spans_change=on_spans or _ignore,
        on_actions_change=on_actions or _ignore,
    )


def _ignore() -> None:
    """Registering a callback is what makes Streamlit keep a state; nothing else to do."""
