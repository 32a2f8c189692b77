"""A suggestion of no intent at all is no suggestion, and an entity row's "O" reads as words.

A browser review found "Relabel to the suggestion" live on out-of-fold audit rows of a multi-label
project whose suggested set was empty: one click stored ``intents: []`` as the turn's gold label, and
the export carried it. Entity rows' button lines read ``product [80-85] -> O [80-85]``, tagger jargon."""
from __future__ import annotations

from workbench.components.fixes import _describe, fix_note, fix_preview, relabel_refusal

TWO_INTENTS = {"intents": ["track_order", "complaint"], "entities": [], "sentiment": None, "aligned": None}


def test_an_empty_intent_set_is_refused_as_a_suggestion():
    refusal = relabel_refusal(TWO_INTENTS, "intent", ["track_order", "complaint"], [])
    assert refusal is not None and "no intent" in refusal
    assert relabel_refusal(TWO_INTENTS, "intent", ["track_order", "complaint"], ["track_order"]) is None


def test_the_button_line_says_the_relabel_is_off_instead_of_showing_an_empty_set():
    line = fix_preview(TWO_INTENTS, "intent", ["track_order", "complaint"], [])[0]
    assert line.startswith("Relabel to the suggestion: off: the model suggests no intent"), line
    assert "-> []" not in line


def test_an_outside_span_reads_no_entity_in_lines_and_notes():
    given, suggested = {"start": 80, "end": 85, "label": "product"}, {"start": 80, "end": 85, "label": "O"}
    assert _describe(suggested) == "no entity [80-85]"
    assert fix_preview(TWO_INTENTS, "entity", given, suggested)[0] == \
        "Relabel to the suggestion: entity span product [80-85] -> no entity [80-85]"
    assert fix_note("relabel", "entity", given, suggested) == "analyst relabel: entity product [80-85] -> no entity [80-85]"
