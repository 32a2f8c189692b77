"""Send to review from an analyst page: the review note says what the analyst saw, and only that.

On a turn already judged misaligned the misalignment page has no suggestion to offer; the note used
to read "model suggests None", which an adjudicator reads as the model suggesting a label named None.
The response fit reads in words (aligned / misaligned / not judged), not as True / False / None.
"""
import json
from types import SimpleNamespace

import pytest

from store import importer
from workbench.components import fixes


@pytest.fixture()
def one_turn(db, tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"id": "t1", "text": "where is my parcel", "response": "Goodbye!",
                                "intents": ["track_order"], "aligned": False}) + "\n", encoding="utf-8")
    assert importer.import_files(db, [path]).ok
    return db


def _review_notes(db):
    return [row[0] for row in db.query("SELECT note FROM annotations WHERE action = 'flag'")]


@pytest.mark.parametrize("suggested, expected", [
    (None, "analyst: check response fit: given misaligned"),
    (True, "analyst: check response fit: given misaligned, model suggests aligned"),
])
def test_the_review_note_names_a_suggestion_only_when_there_is_one(one_turn, monkeypatch, suggested, expected):
    monkeypatch.setattr(fixes, "flash", lambda kind, message: None)    # the page's message area, not under test
    analyst = SimpleNamespace(username="ana")
    fixes.apply_fix(one_turn, analyst, "default", turn_id="t1", field="aligned", given=False, value=suggested,
                    action="review")
    assert _review_notes(one_turn) == [expected]
