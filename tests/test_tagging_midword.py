"""A span that starts inside a word: the word's first subword is O, a later one B-X (or I-X).

Whole-word decoding (a word takes its first subword's tag) dropped such a word, so a gold span that
starts inside a word could never be suggested: Bitext's order number inside "order732201349959" is
the digits only (4 gold spans of that kind). Now, where the text switches between letters and digits,
the span starts at that subword's offset (code points) and still runs to the end of the word and over
the following words tagged I-X. Between two letters the word stays whole or out: entering anywhere
suggested account_type "mium" in "Freemium" on Bitext.
"""
from __future__ import annotations

import numpy as np

from pipeline.tagging import decode_spans, tag_names

NAMES = tag_names(["city", "order_number"])


def decoded(text: str, tokens: list[tuple[int, int, str]]) -> list[tuple[int, int, str, str]]:
    """Decode a certain tag per subword (start, end, tag): (start, end, covered text, label) per span."""
    probs = np.full((len(tokens), len(NAMES)), 1e-6)
    for row, (_, _, tag) in enumerate(tokens):
        probs[row, NAMES.index(tag)] = 1.0
    offsets = np.array([(a, b) for a, b, _ in tokens])
    return [(s["start"], s["end"], text[s["start"]:s["end"]], s["label"])
            for s in decode_spans(probs, offsets, NAMES, text=text)]


def test_an_order_number_glued_to_its_word_is_the_digits_only():
    text = "Where is order732201349959?"
    tokens = [(0, 5, "O"), (6, 8, "O"), (9, 14, "O"), (14, 18, "B-order_number"), (18, 26, "I-order_number"),
              (26, 27, "O")]
    assert decoded(text, tokens) == [(14, 26, "732201349959", "order_number")]


def test_offsets_are_code_points_after_emoji_and_chinese():
    # "👍🏽" is 2 code points (4 UTF-16 units, 8 UTF-8 bytes), "你好吗" 3 (9 UTF-8 bytes)
    text = "👍🏽 你好吗 order732201349959"
    tokens = [(0, 2, "O"), (3, 4, "O"), (4, 5, "O"), (5, 6, "O"), (7, 12, "O"), (12, 16, "B-order_number"),
              (16, 24, "I-order_number")]
    assert decoded(text, tokens) == [(12, 24, "732201349959", "order_number")]


def test_an_inside_tag_inside_a_word_starts_the_span():
    text = "order732201349959 please"
    tokens = [(0, 5, "O"), (5, 9, "I-order_number"), (9, 17, "I-order_number"), (18, 24, "O")]
    assert decoded(text, tokens) == [(5, 17, "732201349959", "order_number")]


def test_the_span_reaches_the_word_end_and_following_inside_words():
    # the last subword of the word says O: the span still ends at the word's end, then runs over "0134"
    text = "order7322x 0134 ok"
    tokens = [(0, 5, "O"), (5, 9, "B-order_number"), (9, 10, "O"), (11, 15, "I-order_number"), (16, 18, "O")]
    assert decoded(text, tokens) == [(5, 15, "7322x 0134", "order_number")]


def test_a_word_whose_first_subword_is_tagged_still_covers_the_whole_word():
    text = "Where is order732201349959?"
    whole = [(9, 26, "order732201349959", "order_number")]
    tags = [(0, 5, "O"), (6, 8, "O"), (26, 27, "O")]
    assert decoded(text, tags[:2] + [(9, 14, "B-order_number"), (14, 18, "I-order_number"),
                                      (18, 26, "I-order_number")] + tags[2:]) == whole
    assert decoded(text, tags[:2] + [(9, 14, "B-order_number"), (14, 18, "O"), (18, 26, "O")] + tags[2:]) == whole
    # a later subword with another label does not split or relabel the word
    assert decoded(text, tags[:2] + [(9, 14, "B-order_number"), (14, 18, "B-city"), (18, 26, "O")] + tags[2:]) \
        == whole


def test_a_word_tagged_outside_throughout_is_no_span():
    text = "Where is order732201349959?"
    tokens = [(0, 5, "O"), (6, 8, "O"), (9, 14, "O"), (14, 18, "O"), (18, 26, "O"), (26, 27, "O")]
    assert decoded(text, tokens) == []


def test_no_entry_between_two_letters():
    # "free" O, "mium" B-account: no "mium" (the model's miss on "Freemium" stays a miss, not a stub)
    text = "open Freemium account"
    tokens = [(0, 4, "O"), (5, 9, "O"), (9, 13, "B-order_number"), (14, 21, "O")]
    assert decoded(text, tokens) == []
