"""Decoded spans cover whole words: a word takes the tag of its first subword.

Subword decoding suggested order_id "ORD-55" on "...order ORD-5521?" ("##21" came out O) and
booking_ref "img sr" on "<img src=x"; accepting either stored a stub of a word. Scripts written
without spaces (Chinese, Japanese, Thai) are not extended: there the character is the unit.
"""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.tagging import decode_spans, tag_names, word_groups

NAMES = tag_names(["booking_ref", "city", "order_id"])


def decoded(text: str, tokens: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """Decode a certain tag per subword (start, end, tag) and read the spans on ``text``."""
    probs = np.full((len(tokens), len(NAMES)), 1e-6)
    for row, (_, _, tag) in enumerate(tokens):
        probs[row, NAMES.index(tag)] = 1.0
    offsets = np.array([(a, b) for a, b, _ in tokens])
    return [(text[s["start"]:s["end"]], s["label"]) for s in decode_spans(probs, offsets, NAMES, text=text)]


def test_a_trailing_subword_tagged_outside_stays_in_the_order_id():
    text = "where is my order ORD-5521?"
    tokens = [(0, 5, "O"), (6, 8, "O"), (9, 11, "O"), (12, 17, "O"), (18, 21, "B-order_id"),
              (21, 22, "I-order_id"), (22, 24, "I-order_id"), (24, 26, "O"), (26, 27, "O")]
    assert decoded(text, tokens) == [("ORD-5521", "order_id")]


def test_a_span_ending_inside_a_word_reaches_its_edge():
    text = "<img src=x onerror=alert(1)>"
    tokens = [(0, 1, "O"), (1, 4, "B-booking_ref"), (5, 7, "I-booking_ref"), (7, 8, "O"), (8, 9, "O"),
              (9, 10, "O")]
    assert decoded(text, tokens) == [("img src", "booking_ref")]


def test_a_word_takes_its_first_subwords_tag():
    # "Dub" is B-city, "lin" says B-order_id: one word, one span, the first subword's label
    assert decoded("to Dublin now", [(0, 2, "O"), (3, 6, "B-city"), (6, 9, "B-order_id"), (10, 13, "O")]) == \
        [("Dublin", "city")]
    # a word whose first subword is O is no entity, whatever its later subwords say
    assert decoded("to Dublin now", [(0, 2, "O"), (3, 6, "O"), (6, 9, "B-city"), (10, 13, "O")]) == []


@pytest.mark.parametrize("text, tokens, want", [
    ("去成都旅游", [(0, 1, "O"), (1, 2, "B-city"), (2, 3, "O"), (3, 5, "O")], [("成", "city")]),
    ("東京へ行く", [(0, 1, "B-city"), (1, 2, "I-city"), (2, 3, "O"), (3, 5, "O")], [("東京", "city")]),
    ("ไปเชียงใหม่", [(0, 2, "O"), (2, 7, "B-city"), (7, 11, "O")], [("เชียง", "city")]),
])
def test_scripts_without_spaces_are_not_extended(text, tokens, want):
    assert decoded(text, tokens) == want


def test_spans_already_on_word_bounds_are_unchanged():
    text = "Flight from Chengdu-Shanghai on 8th of this month.American"
    tokens = [(0, 6, "O"), (7, 11, "O"), (12, 19, "B-city"), (19, 20, "O"), (20, 28, "B-city"), (29, 31, "O"),
              (32, 33, "O"), (33, 35, "O"), (36, 38, "O"), (39, 43, "O"), (44, 49, "O"), (49, 50, "O"),
              (50, 58, "O")]
    assert decoded(text, tokens) == [("Chengdu", "city"), ("Shanghai", "city")]


def test_groups_keep_code_points_around_emoji_and_spaces():
    text = "👨\u200d👩\u200d👧 Dublin"
    heads, bounds = word_groups(np.array([(0, 3), (3, 5), (6, 9), (9, 12)]), text)
    assert heads == [0, 2]
    assert bounds.tolist() == [[0, 5], [6, 12]]        # the emoji is one unit: no group cuts it
