"""store.browse: the Browse page's one query. The search is a substring match in which the analyst's
``%`` and ``_`` are plain characters (unescaped, "50%" matched "500" and "a_b" matched "axb"), Chinese
and emoji match as typed, each filter keeps exactly its turns, "disputed" is the adjudication queue's
open disagreement, and pages follow turn id with the total counted before paging."""
from __future__ import annotations

import json

import pytest

from app_testkit import seed
from store import annotations, labels
from store.browse import browse_turns, like_pattern

EXTRA = [
    {"id": "p-percent", "conversation_id": "k1", "text": "I got 50% off my order", "response": "Great!"},
    {"id": "p-five-hundred", "conversation_id": "k2", "text": "I paid 500 for my order", "response": "OK"},
    {"id": "p-underscore", "conversation_id": "k3", "text": "my code is a_b", "response": "Thanks"},
    {"id": "p-axb", "conversation_id": "k4", "text": "my code is axb", "response": "Thanks, ORDER_NO noted"},
    {"id": "p-backslash", "conversation_id": "k5", "text": "path C:\\orders\\new", "response": ""},
]


@pytest.fixture
def browse_db(db, tmp_path):
    """The workbench test turns (Chinese, emoji, English) plus the wildcard ones above; overlap 2."""
    from store import importer

    seed(db, tmp_path, users=("ann", "ana"))
    labels.set_overlap(db, "default", 2)
    path = tmp_path / "extra.jsonl"
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in EXTRA), encoding="utf-8")
    assert importer.import_files(db, [path], labels="ignore").ok
    return db


def submit(db, turn_id: str, annotator: str, intents: list[str], sentiment: str = "neutral") -> None:
    annotations.submit(db, annotation_id=f"{turn_id}-{annotator}-{'+'.join(intents)}", turn_id=turn_id,
                       project="default", annotator=annotator, intents=intents, sentiment=sentiment)


def ids(page) -> list[str]:
    return page.rows["turn_id"].tolist()


def test_like_pattern_escapes_wildcards_and_the_escape_character():
    assert like_pattern("50%") == "%50\\%%"
    assert like_pattern("a_b") == "%a\\_b%"
    assert like_pattern("C:\\o") == "%C:\\\\o%"


def test_percent_and_underscore_match_only_themselves(browse_db):
    assert ids(browse_turns(browse_db, search="50%")) == ["p-percent"]
    assert ids(browse_turns(browse_db, search="a_b")) == ["p-underscore"]
    assert ids(browse_turns(browse_db, search="%")) == ["p-percent"]
    assert ids(browse_turns(browse_db, search="C:\\orders")) == ["p-backslash"]


def test_chinese_and_emoji_match_as_substrings_case_insensitively(browse_db):
    assert ids(browse_turns(browse_db, search="🙂 订单")) == ["t-zh"]
    assert ids(browse_turns(browse_db, search="😤")) == ["t-emoji"]
    assert ids(browse_turns(browse_db, search="WHERE IS ORDER")) == ["t-en"]


def test_the_response_is_searched_only_when_asked(browse_db):
    assert ids(browse_turns(browse_db, search="order_no")) == []
    assert ids(browse_turns(browse_db, search="order_no", in_response=True)) == ["p-axb"]
    assert ids(browse_turns(browse_db, search="已为您", in_response=True)) == ["t-zh"]


def test_status_intent_and_annotator_filters(browse_db):
    submit(browse_db, "t-en", "ann", ["track_order"])
    submit(browse_db, "t-en", "ana", ["track_order"])
    submit(browse_db, "t-zh", "ann", ["return_item", "greeting"], "negative")
    submit(browse_db, "t-emoji", "ann", ["track_order"])
    submit(browse_db, "t-emoji", "ana", ["cancel_order"])           # a disagreement
    everything = browse_turns(browse_db)
    assert everything.total == 10 and ids(everything) == sorted(ids(everything))
    assert ids(browse_turns(browse_db, status="labelled")) == ["t-emoji", "t-en", "t-zh"]
    assert "t-en" not in ids(browse_turns(browse_db, status="unlabelled"))
    assert browse_turns(browse_db, status="unlabelled").total == 7
    assert ids(browse_turns(browse_db, status="disputed")) == ["t-emoji"]
    assert ids(browse_turns(browse_db, intents=["greeting", "cancel_order"])) == ["t-zh"]
    assert ids(browse_turns(browse_db, annotator="ana")) == ["t-emoji", "t-en"]
    assert ids(browse_turns(browse_db, annotator="ana", search="order 777")) == ["t-emoji"]
    row = browse_turns(browse_db, search="退款").rows.iloc[0]
    assert sorted(row["intents"]) == ["greeting", "return_item"] and row["sentiment"] == "negative"
    assert list(row["annotators"]) == ["ann"] and row["source"] == "human"


def test_an_adjudication_ends_the_dispute_and_renames_read_as_today(browse_db):
    submit(browse_db, "t-emoji", "ann", ["track_order"])
    submit(browse_db, "t-emoji", "ana", ["cancel_order"])
    annotations.adjudicate(browse_db, annotation_id="adj", turn_id="t-emoji", project="default", reviewer="ana",
                           intents=["track_order"], sentiment="negative")
    assert browse_turns(browse_db, status="disputed").total == 0
    labels.rename_label(browse_db, "default", "intent", "track_order", "where_is_order")
    page = browse_turns(browse_db, intents=["where_is_order"])
    assert ids(page) == ["t-emoji"] and list(page.rows["intents"].iloc[0]) == ["where_is_order"]


def test_pages_follow_turn_id_and_count_every_match(browse_db):
    first = browse_turns(browse_db, page=1, page_size=4)
    second = browse_turns(browse_db, page=2, page_size=4)
    third = browse_turns(browse_db, page=3, page_size=4)
    assert first.total == second.total == third.total == 10
    assert len(ids(first)) == 4 and len(ids(second)) == 4 and len(ids(third)) == 2
    assert ids(first) + ids(second) + ids(third) == sorted(ids(browse_turns(browse_db, page_size=50)))
    beyond = browse_turns(browse_db, page=9, page_size=4)
    assert ids(beyond) == [] and beyond.total == 10


def test_an_unknown_status_is_refused(browse_db):
    with pytest.raises(ValueError, match="status must be one of"):
        browse_turns(browse_db, status="'; DROP TABLE turns; --")
