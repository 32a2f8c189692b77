"""The out-of-fold audit's entity rows cover whole words, as the tagger's suggestions do.

The audit built the model's span from subword edges: where '##21' of 'ORD-5521' came out O it offered
order_id 'ORD-55', and booking_ref 'img sr' on '<img src', and 'Relabel to the suggestion' stored the
stub. It now decodes per word with the tagger's grouping (``pipeline.tagging.word_groups``): a word takes
its first subword's type, a span reaches its words' edges and loses edge punctuation. Scripts written
without spaces keep the character as the unit."""
from __future__ import annotations

import numpy as np

from pipeline import label_errors as LE
from pipeline.label_errors_oof import EntityOOF

TYPES = ["booking_ref", "order_id"]


def turn(text: str, tokens: list[tuple[int, int, str]]) -> tuple[str, np.ndarray, np.ndarray]:
    """A turn's text, subword offsets and merged type probabilities (O + TYPES): 0.9 on each subword's type."""
    names = ["O", *TYPES]
    probs = np.full((len(tokens), len(names)), 0.1 / (len(names) - 1))
    for row, (_, _, label) in enumerate(tokens):
        probs[row, names.index(label)] = 0.9
    return text, np.array([(a, b) for a, b, _ in tokens]), probs


def audit(text: str, tokens: list[tuple[int, int, str]], span: dict, n_turns: int = 30) -> list[dict]:
    """``n_turns`` copies of one turn the model reads the same way: the annotator labelled ``span`` on all
    but the last two, which miss it (the audit should offer the model's span there)."""
    text, offsets, probs = turn(text, tokens)
    oof = EntityOOF(ids=[], texts=[], entity_types=TYPES)
    for i in range(n_turns):
        spans = [] if i >= n_turns - 2 else [span]
        oof.ids.append(f"t{i}")
        oof.texts.append(text)
        oof.offsets.append(offsets)
        oof.given.append(LE.token_types(offsets, spans, TYPES))
        oof.probs.append(probs)
    return oof.rows()


def offered(rows: list[dict], text: str) -> set:
    assert all(text[r["start"]:r["end"]] == r["span_text"] for r in rows)
    return {(r["id"], r["given"], r["suggested"], r["span_text"]) for r in rows}


def test_a_trailing_subword_read_as_outside_stays_in_the_offered_order_id():
    text = "where is my order ORD-5521?"
    tokens = [(0, 5, "O"), (6, 8, "O"), (9, 11, "O"), (12, 17, "O"), (18, 21, "order_id"), (21, 22, "order_id"),
              (22, 24, "order_id"), (24, 26, "O"), (26, 27, "O")]
    rows = audit(text, tokens, {"start": 18, "end": 26, "label": "order_id"})
    assert offered(rows, text) == {("t28", "O", "order_id", "ORD-5521"), ("t29", "O", "order_id", "ORD-5521")}


def test_a_span_ending_inside_a_word_reaches_its_edge():
    text = "<img src=x onerror=alert(1)>"
    tokens = [(0, 1, "O"), (1, 4, "booking_ref"), (5, 7, "booking_ref"), (7, 8, "O"), (8, 9, "O"), (9, 10, "O")]
    rows = audit(text, tokens, {"start": 1, "end": 8, "label": "booking_ref"})
    assert offered(rows, text) == {("t28", "O", "booking_ref", "img src"), ("t29", "O", "booking_ref", "img src")}


def test_edge_punctuation_the_model_types_is_not_offered():
    text = "order ORD-5521? thanks"
    tokens = [(0, 5, "O"), (6, 9, "order_id"), (9, 10, "order_id"), (10, 14, "order_id"), (14, 15, "order_id"),
              (16, 22, "O")]
    rows = audit(text, tokens, {"start": 6, "end": 14, "label": "order_id"})
    assert offered(rows, text) == {("t28", "O", "order_id", "ORD-5521"), ("t29", "O", "order_id", "ORD-5521")}


def test_scripts_without_spaces_keep_the_character_as_the_unit():
    text = "订单号码是ABC"
    tokens = [(0, 2, "O"), (2, 4, "O"), (4, 5, "O"), (5, 7, "order_id"), (7, 8, "O")]
    rows = audit(text, tokens, {"start": 5, "end": 8, "label": "order_id"})
    # the Latin word 'ABC' is one word (its first subword's type); the Chinese characters stay O
    assert offered(rows, text) == {("t28", "O", "order_id", "ABC"), ("t29", "O", "order_id", "ABC")}


def test_an_annotation_starting_inside_a_word_is_still_judged():
    # the annotator labelled only '5521' of 'ORD-5521'... and the model sees no order id at all
    text = "my order ORD-5521 please"
    tokens = [(0, 2, "O"), (3, 8, "O"), (9, 12, "O"), (12, 13, "O"), (13, 15, "O"), (15, 17, "O"), (18, 24, "O")]
    oof = EntityOOF(ids=[], texts=[], entity_types=TYPES)
    text, offsets, probs = turn(text, tokens)
    for i in range(30):
        spans = [{"start": 15, "end": 17, "label": "order_id"}] if i == 29 else []
        oof.ids.append(f"t{i}")
        oof.texts.append(text)
        oof.offsets.append(offsets)
        oof.given.append(LE.token_types(offsets, spans, TYPES))
        oof.probs.append(probs)
    assert offered(oof.rows(), text) == {("t29", "order_id", "O", "5521")}
