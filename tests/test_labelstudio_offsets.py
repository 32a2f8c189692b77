"""Label Studio export offsets: code points, the unit Label Studio's <Text> tag stores today.

Label Studio's own frontend test "NER - Emoji - Text" (web/libs/editor/tests/integration/e2e/ner/emoji.cy.ts,
HumanSignal/label-studio) selects "test" in "🐱 Warning: This is a test text" and expects start 21, end 25:
code points (UTF-16 units would give 22, 26), with the feature flag FF_LSDV_4620_3 on and off. Versions
of 2021 counted UTF-16 units (HumanSignal/label-studio#1347, fixed by label-studio-frontend#308); our
reader still converts such files, with a warning. So a turn with an emoji before a span exports the
code-point offsets, and export -> import through our reader is the identity.
"""
from __future__ import annotations

import json

import pytest

from store.formats.common import ExportOptions
from store.formats.labelstudio import read_labelstudio, write_labelstudio
from store.records import normalize_turn

EMOJI_TURN = normalize_turn({"id": "t1", "text": "😞 I was billed $1,299", "entities": [
    {"start": 15, "end": 21, "label": "amount"}]})

# (text, [(the span's text, label)]): offsets are found with str.index, i.e. in code points
ROUND_TRIP = {
    "chinese": ("我想退订单 12345，谢谢", [("12345", "order_id"), ("我想", "who")]),
    "emoji_astral": ("😞 I was billed $1,299 twice 🙄 for order 77", [("$1,299", "amount"), ("77", "order_id")]),
    "emoji_inside_span": ("pay 💳💳 now", [("💳💳", "card")]),
    "zwj_sequence": ("👨‍👩‍👧 family plan 👩🏽‍🚒 costs $30", [("family plan", "plan"), ("👩🏽‍🚒", "who"), ("$30", "amount")]),
}


def export_tasks(tmp_path, records: list[dict]) -> list[dict]:
    path = tmp_path / "tasks.json"
    write_labelstudio(records, path, ExportOptions(schema={}))
    return json.loads(path.read_text(encoding="utf-8"))


def spans_of(task: dict) -> list[dict]:
    return [r["value"] for r in task["annotations"][0]["result"] if r["type"] == "labels"]


def test_an_emoji_turn_exports_code_point_offsets_and_the_span_text(tmp_path):
    (span,) = spans_of(export_tasks(tmp_path, [EMOJI_TURN])[0])
    assert (span["start"], span["end"], span["text"]) == (15, 21, "$1,299")
    assert EMOJI_TURN["text"][span["start"]:span["end"]] == span["text"]


def test_label_studios_own_emoji_reference_case(tmp_path):
    """The offsets Label Studio's frontend test expects for the same selection."""
    turn = normalize_turn({"text": "🐱 Warning: This is a test text", "entities": [{"start": 21, "end": 25, "label": "region"}]})
    (span,) = spans_of(export_tasks(tmp_path, [turn])[0])
    assert (span["start"], span["end"], span["text"]) == (21, 25, "test")


@pytest.mark.parametrize("case", sorted(ROUND_TRIP))
def test_export_then_import_is_the_identity_on_code_point_offsets(tmp_path, case):
    text, spans = ROUND_TRIP[case]
    entities = [{"start": text.index(part), "end": text.index(part) + len(part), "label": label} for part, label in spans]
    record = normalize_turn({"id": case, "text": text, "entities": entities})
    for task_span, span in zip(spans_of(export_tasks(tmp_path, [record])[0]), record["entities"]):
        assert task_span["text"] == text[span["start"]:span["end"]]
    result = read_labelstudio(tmp_path / "tasks.json")
    assert result.ok and not result.warnings, (result.problems, result.warnings)
    assert result.records[0]["entities"] == record["entities"]
    assert result.records[0]["text"] == text
