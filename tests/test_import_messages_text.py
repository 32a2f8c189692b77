"""Import messages quote the user's text with its characters: 👨‍👩‍👧 and 去　北京, not \\u200d and \\u3000.

They quoted it with ``repr``, which escapes every character Python calls unprintable: the joiners of an
emoji ZWJ sequence and the ideographic space of Chinese text, so the message named text the user never
typed and could not search for in the file. Control characters (a newline in a CSV cell, a bidi override
that would turn the rest of the line around) stay escaped: they would break or disguise the message.
"""
from __future__ import annotations

import json

import pytest

from store import importer
from store.formats import READERS
from store.message_text import quoted

FAMILY = "👨‍👩‍👧"                       # man ZWJ woman ZWJ girl: five code points, one character
CHINESE = "我们一家" + FAMILY + "去　北京"   # U+3000 IDEOGRAPHIC SPACE between 去 and 北京
ESCAPES = ("\\u200d", "\\u3000", "\\U0001f468")


def _jsonl(path, records: list[dict]):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _messages(report) -> str:
    return "\n".join([p.message for p in report.problems] + report.warnings + report.duplicates)


def _shows_characters(text: str, *expected: str) -> None:
    for part in expected:
        assert part in text, text
    assert not any(escape in text for escape in ESCAPES), text


CASES = {
    "span text differs": (
        [{"text": CHINESE, "entities": [{"start": 4, "end": 9, "label": "who", "text": FAMILY + "去"}]}],
        {}, [f"span says '{FAMILY}去' but text[4:9] is '{FAMILY}'"]),
    "id used again": (
        [{"id": "订单　" + FAMILY, "text": "退款"}, {"id": "订单　" + FAMILY, "text": CHINESE}],
        {}, [f"id '订单　{FAMILY}' is used again with other content"]),
    "label name with a blank edge": (
        [{"text": CHINESE, "intents": ["　退款" + FAMILY]}],
        {}, [f"label name '　退款{FAMILY}' has leading or trailing whitespace"]),
    "label not in a strict schema": (
        [{"text": CHINESE, "intents": ["退款　" + FAMILY]}],
        {"strict_schema": True}, [f"intent '退款　{FAMILY}' is not in the label schema"]),
    "span edge inside a word": (
        [{"text": FAMILY + "Chengdu 旅游", "entities": [{"start": 0, "end": 11, "label": "city"}]}],
        {}, [f"'{FAMILY}Chengd'"]),
    "unknown field kept in meta": (
        [{"text": CHINESE, "来源　" + FAMILY: "app"}],
        {}, [f"'来源　{FAMILY}' (1 record)"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_import_messages_show_the_characters(db, tmp_path, case):
    records, options, expected = CASES[case]
    report = importer.import_files(db, [_jsonl(tmp_path / "in.jsonl", records)], **options)
    _shows_characters(_messages(report), *expected)


def test_control_characters_stay_escaped(db, tmp_path):
    """A bidi override in a label name is shown as \\u202e (it would reverse the line); the emoji is itself."""
    report = importer.import_files(db, [_jsonl(tmp_path / "in.jsonl", [{"text": CHINESE,
                                                                         "intents": ["退款\u202e" + FAMILY]}])])
    [problem] = report.problems
    assert problem.message == f"label name '退款\\u202e{FAMILY}' contains a control character ('\\u202e')"


def test_csv_cell_quoted_with_its_characters_and_its_newline_escaped(db, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f'text,entities\n{CHINESE},"[""{FAMILY}去\n北京"\n', encoding="utf-8")
    report = importer.import_files(db, [path])
    _shows_characters(_messages(report), f"""got '["{FAMILY}去\\n北京'""")


def test_labelstudio_span_text_shown_with_its_characters(tmp_path):
    task = {"data": {"text": CHINESE}, "annotations": [{"result": [
        {"from_name": "entities", "to_name": "text", "type": "labels",
         "value": {"start": 4, "end": 9, "text": FAMILY + "去", "labels": ["who"]}}]}]}
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    result = READERS["labelstudio"](path)
    _shows_characters("\n".join(p.message for p in result.problems), f"span says '{FAMILY}去' but text[4:9] is '{FAMILY}'")


def test_quoted_cuts_between_whole_characters():
    assert quoted("ab" + FAMILY + "cd", 4) == "'ab'…"
    assert quoted("ab" + FAMILY + "cd", 7) == f"'ab{FAMILY}'…"
    assert quoted("a\r\nb\x85\u2028") == "'a\\r\\nb\\x85\\u2028'"
