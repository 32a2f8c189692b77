"""Shared sample records for the format tests, and the helpers every format relies on."""
from __future__ import annotations

import pytest

from store.formats.common import neutralise_cell, restore_cell
from store.formats.words import bio_tags, spans_from_bio, word_splitter
from store.records import normalize_turn

CHINESE = "退款 🙂 订单12345"


def sample_records() -> list[dict]:
    """Turns that stress every format: Chinese, emoji (astral plane), formulas, multi-intent, line breaks."""
    raw = [
        {"id": "c1:1", "conversation_id": "c1", "turn_index": 1,
         "context": [{"speaker": "user", "text": "你好"}, {"speaker": "assistant", "text": "您好，请问有什么可以帮您？"}],
         "text": CHINESE, "response": "好的，已为您退款。", "intents": ["refund"], "sentiment": "negative", "aligned": True,
         "entities": [{"start": 0, "end": 2, "label": "action"}, {"start": 3, "end": 4, "label": "emotion"},
                      {"start": 7, "end": 12, "label": "order_id"}], "meta": {"channel": "web"}},
        {"id": "c2:0", "conversation_id": "c2", "turn_index": 0, "text": '=HYPERLINK("x") cancel order 42 and refund it',
         "response": "Hi!", "corrected_response": "Sure, order 42 is cancelled and refunded.",
         "intents": ["cancel_order", "refund"], "sentiment": "neutral", "aligned": False,
         "entities": [{"start": 29, "end": 31, "label": "order_id"}]},
        {"id": "c2:2", "conversation_id": "c2", "turn_index": 2, "text": "-5 degrees? book a table for 2 at Luigi's",
         "context": [{"speaker": "user", "text": "x"}], "response": "Booked for 2 at Luigi's.",
         "intents": ["book_table"], "aligned": True, "sentiment": "positive",
         "entities": [{"start": 29, "end": 30, "label": "party_size"}, {"start": 34, "end": 41, "label": "restaurant"}]},
        {"id": "c3:0", "conversation_id": "c3", "turn_index": 0, "text": "😀😀 ship to Berlin", "response": "Shipping to Paris.",
         "intents": ["shipping"], "aligned": False, "entities": [{"start": 11, "end": 17, "label": "city"}]},
        {"id": "c3:2", "conversation_id": "c3", "turn_index": 2, "text": "hello there", "sentiment": "positive"},
        {"id": "c4:0", "conversation_id": "c4", "turn_index": 0, "text": "line one\nline two Paris\tok",
         "intents": ["shipping"], "entities": [{"start": 18, "end": 23, "label": "city"}]},
    ]
    records = []
    for r in raw:
        record = normalize_turn(r)
        if r.get("corrected_response"):
            record["corrected_response"] = r["corrected_response"]
        records.append(record)
    return records


def test_sample_records_spans_point_at_the_words_they_name():
    by_id = {r["id"]: r for r in sample_records()}
    text = by_id["c1:1"]["text"]
    assert [text[s["start"]:s["end"]] for s in by_id["c1:1"]["entities"]] == ["退款", "🙂", "12345"]
    assert by_id["c2:2"]["text"][34:41] == "Luigi's"
    assert by_id["c3:0"]["text"][11:17] == "Berlin"


@pytest.mark.parametrize("cell", ["=1+1", "+49 30", "-5", "@home", "\tx", "'=x", "''+y", "'plain", "plain", "", "a=b"])
def test_neutralised_cells_never_start_a_formula_and_restore_exactly(cell):
    safe = neutralise_cell(cell)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore_cell(safe) == cell


def test_packaged_tokenizer_splits_chinese_per_character_and_keeps_code_point_offsets():
    words = word_splitter().words([CHINESE])[0]
    assert [CHINESE[s:e] for s, e in words] == ["退", "款", "🙂", "订", "单", "12345"]


def test_bio_tags_round_trip_and_count_spans_that_cut_a_word():
    words = word_splitter().words([CHINESE])[0]
    spans = [{"start": 0, "end": 2, "label": "action"}, {"start": 7, "end": 12, "label": "order_id"}]
    tags, misfit = bio_tags(words, spans)
    assert tags == ["B-action", "I-action", "O", "O", "O", "B-order_id"] and misfit == 0
    assert spans_from_bio(words, tags) == spans
    _, misfit = bio_tags(words, [{"start": 8, "end": 10, "label": "x"}])  # "23" inside "12345"
    assert misfit == 1


def test_a_named_tokenizer_trained_in_the_test_is_followed(tmp_path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # keeps "Luigi's" apart differently than BERT
    tokenizer.train_from_iterator(["book a table for two", "订单 退款"], trainers.WordPieceTrainer(
        vocab_size=200, special_tokens=["[UNK]"]))
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    text = "book for 2 at Luigi's"
    words = word_splitter(str(path)).words([text])[0]
    assert [text[s:e] for s, e in words] == ["book", "for", "2", "at", "Luigi", "'", "s"]
    with pytest.raises(ValueError, match="tokenizer.json"):
        word_splitter(str(tmp_path / "missing"))
