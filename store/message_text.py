"""How an import message quotes the user's text: with its characters, not ``repr``'s escapes.

``repr`` escapes every character Python calls unprintable: the joiners inside 👨‍👩‍👧 (``\\u200d``), the
ideographic space of Chinese text (``\\u3000``), so a message about ``'订单　👨‍👩‍👧'`` quoted escapes the
user never typed and cannot find in the file. A message shows the characters themselves and escapes only
what would break or disguise the line it is on: control characters (a CR LF is one grapheme cluster and
must not end the line), line and paragraph separators, and the byte-order mark and bidi controls (which
make the rest of the line display reversed). Pure Python, like ``store.records``.
"""
from __future__ import annotations

from typing import Any

import regex

# Format characters that have no business in a name: a byte-order mark and bidi overrides (which make a
# label display as another). Joiners (U+200C/U+200D) stay allowed: Persian words and emoji need them.
INVISIBLE_FORMAT = frozenset("\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What a message escapes (as repr writes it: \n, \x85, \u2028, \u202e); every other character is itself.
CONTROL_ESCAPES = {c: repr(chr(c))[1:-1] for c in [*range(0x20), *range(0x7f, 0xa0), 0x2028, 0x2029,
                                                     *map(ord, INVISIBLE_FORMAT)]}
GRAPHEME = regex.compile(r"\X")   # a grapheme cluster (UAX #29), the unit the browser's span selector moves by


def whole_characters(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` code points that ends at a whole character
    (never inside 👨‍👩‍👧 or between a letter and its accent)."""
    if len(text) <= limit:
        return text
    end = 0
    for cluster in GRAPHEME.finditer(text):
        if cluster.end() > limit:
            break
        end = cluster.end()
    return text[:end]


def quoted(text: str, limit: int | None = None) -> str:
    """``text`` in single quotes for a message, cut after at most ``limit`` code points at a whole
    character (``whole_characters``) with ``…`` after the closing quote when it was cut."""
    cut = text if limit is None else whole_characters(text, limit)
    return f"'{cut.translate(CONTROL_ESCAPES)}'" + ("…" if len(cut) < len(text) else "")


def shown(value: Any, limit: int | None = None) -> str:
    """A value read from a file, for a message: a string ``quoted``, anything else (a number, a list
    where a string belongs) as ``repr`` writes it, cut after ``limit`` characters."""
    if isinstance(value, str):
        return quoted(value, limit)
    text = repr(value)
    return text if limit is None or len(text) <= limit else text[:limit] + "…"


def shown_with_type(value: Any) -> str:
    """A value of the wrong type for a message, its type first: 'int 12345', 'list ['退款']'."""
    return f"{type(value).__name__} {shown(value, 60)}"
