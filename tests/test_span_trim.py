"""Decoded spans are trimmed of edge spaces and punctuation on the turn's text.

Token bounds are not entity bounds: a tokenizer glues "—" or "!" to a word, so accepting a model's
span stored 'A983684 —' as an order id. ``decode_spans`` with the text trims spaces, dashes, brackets,
quotes and clause punctuation from both ends, keeps a bracket or quote whose partner is inside, and drops spans left
empty. Offsets are code points (Python str indices), so Chinese and emoji text must come out exact.
"""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.tagging import decode_spans, tag_names

NAMES = tag_names(["city", "order_id", "phone"])


def decoded(text: str, tokens: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """Decode a certain tag path over ``tokens`` (start, end, tag) and read the spans on ``text``."""
    probs = np.full((len(tokens), len(NAMES)), 1e-6)
    for row, (_, _, tag) in enumerate(tokens):
        probs[row, NAMES.index(tag)] = 1.0
    offsets = np.array([(a, b) for a, b, _ in tokens])
    return [(text[s["start"]:s["end"]], s["label"]) for s in decode_spans(probs, offsets, NAMES, text=text)]


def test_a_trailing_dash_and_space_leave_the_order_id():
    text = "A983684 — placed Tuesday"
    assert decoded(text, [(0, 7, "B-order_id"), (7, 9, "I-order_id"), (9, 16, "O")]) == [("A983684", "order_id")]


@pytest.mark.parametrize("text, tokens, want", [
    ("订单 A983684 —", [(0, 2, "O"), (2, 10, "B-order_id"), (10, 12, "I-order_id")], [("A983684", "order_id")]),
    ("🎉 Dublin!", [(0, 1, "O"), (1, 8, "B-city"), (8, 9, "I-city")], [("Dublin", "city")]),
    ("去「東京」。", [(0, 1, "O"), (1, 5, "B-city"), (5, 6, "I-city")], [("「東京」", "city")]),
    ("call (555) 123, thanks", [(0, 4, "O"), (4, 9, "B-phone"), (9, 14, "I-phone"), (14, 22, "O")],
     [("(555) 123", "phone")]),
    ("to “Dublin”.", [(0, 2, "O"), (2, 11, "B-city"), (11, 12, "I-city")], [("“Dublin”", "city")]),
    ("Paris) no", [(0, 6, "B-city"), (6, 9, "O")], [("Paris", "city")]),
])
def test_chinese_emoji_and_brackets_keep_exact_code_points(text, tokens, want):
    assert decoded(text, tokens) == want


def test_a_span_of_punctuation_only_is_dropped_and_the_score_is_kept():
    text = "A12 — ok"
    probs = np.full((3, len(NAMES)), 1e-6)
    probs[0, NAMES.index("B-order_id")] = 0.8
    probs[1, NAMES.index("B-city")] = 1.0
    probs[2, NAMES.index("O")] = 1.0
    spans = decode_spans(probs, np.array([(0, 3), (3, 5), (5, 8)]), NAMES, text=text)
    assert [(s["start"], s["end"], s["label"]) for s in spans] == [(0, 3, "order_id")]
    assert spans[0]["score"] == pytest.approx(0.8, rel=1e-4)


@pytest.mark.parametrize("text, want", [
    ("50%", "50%"), ("#A123,", "#A123"), ("AT&T!", "AT&T"), ("U.S.", "U.S."), ("a.m.", "a.m."),
    ("Main St.", "Main St."), ("Dublin.", "Dublin"), ("订单号，", "订单号"),
])
def test_punctuation_that_belongs_to_the_entity_stays(text, want):
    """Only clause punctuation, dashes, brackets and quotes are edges: "%", "#", "&" and the period
    of an abbreviation are part of what the annotator would mark."""
    assert decoded(text, [(0, len(text), "B-order_id")]) == [(want, "order_id")]
