"""Exports after an analyst judged only a response's fit, and what chat / DPO learn from misaligned turns.

An analyst's "Relabel to the suggestion" on the Misalignment page stores a gold label on a turn nobody
had labelled: its response is misaligned, and its intents are an empty list that says nothing. Intent
exports must not write that turn as an intent example, alignment exports must use its judgement, and
the chat export must not teach the misaligned response quoted in a later turn's history.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from store import annotations, importer, labels
from store.export import export, export_records
from store.formats import ExportOptions
from store.records import write_jsonl
from workbench.components import fixes

HOTELS = "I found three hotels in São Paulo for you."


def turn(cid: str, index: int, text: str, response: str, context: list[tuple[str, str]] = (), **labels) -> dict:
    return {"id": f"{cid}-{index}", "conversation_id": cid, "turn_index": index, "text": text, "response": response,
            "context": [{"speaker": s, "text": t} for s, t in context], **labels}


@pytest.fixture
def judged(db, tmp_path, monkeypatch):
    """c009-0 ("Hi there" -> hotels) unlabelled, then judged misaligned by an analyst's one-click fix; its
    conversation's next turn quotes it in context. c048-0 is the same text, labelled greeting."""
    labels.create_project(db, "default")
    records = [
        turn("c009", 0, "Hi there", HOTELS),
        turn("c009", 2, "book a table for two", "Done: a table for two at 8.",
             [("user", "Hi there"), ("assistant", HOTELS)], intents=["book_table"], aligned=True),
        turn("c048", 0, "Hi there", "Hello! How can I help?", intents=["greeting"], aligned=True),
        turn("c050", 0, "cancel it", "Goodbye!", intents=["cancel_order"], aligned=False),
    ]
    path = tmp_path / "in.jsonl"
    write_jsonl(path, records)
    assert importer.import_files(db, [path], labels="gold").ok
    monkeypatch.setattr(fixes, "flash", lambda kind, message: None)     # the page's message area
    fixes.apply_fix(db, SimpleNamespace(username="ana"), "default", turn_id="c009-0", field="aligned", given=None,
                    value=False, action="relabel")
    assert annotations.effective_labels(db, "default").set_index("turn_id").loc["c009-0", "aligned"] == False  # noqa: E712
    return db


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_intent_exports_leave_out_a_turn_judged_only_for_its_fit(judged, tmp_path):
    csv = export(judged, tmp_path / "csv", fmt="intent-csv")
    text = (tmp_path / "csv" / "data.csv").read_text(encoding="utf-8")
    assert "c009-0" not in text and "c048-0,c048,0,Hi there,greeting" in text
    assert csv.manifest["format_counts"]["rows_without_intents"] == 1
    jsonl = export(judged, tmp_path / "jsonl", fmt="intent-jsonl")
    assert "c009-0" not in {r["id"] for r in _lines(tmp_path / "jsonl" / "data.jsonl")}
    assert jsonl.manifest["format_counts"]["rows"] == 3


def test_entity_and_mixed_exports_say_what_happens_to_it(judged, tmp_path):
    conll = export(judged, tmp_path / "conll", fmt="conll")
    assert "# id = c009-0" not in (tmp_path / "conll" / "data.conll").read_text(encoding="utf-8")
    assert conll.manifest["format_counts"]["rows_fit_only"] == 1
    spacy = export(judged, tmp_path / "spacy", fmt="spacy")
    assert "c009-0" not in {r["meta"]["id"] for r in _lines(tmp_path / "spacy" / "data.jsonl")}
    assert spacy.manifest["format_counts"]["rows_fit_only"] == 1
    doccano = export(judged, tmp_path / "doccano", fmt="doccano")
    row = {r["turn_id"]: r for r in _lines(tmp_path / "doccano" / "data.jsonl")}["c009-0"]
    assert row["aligned"] is False and row["cats"] is None and row["entities"] is None   # not labelled, not "none"
    assert doccano.manifest["format_counts"]["rows_fit_only"] == 1
    hf = export(judged, tmp_path / "hf", fmt="hf", options=ExportOptions(hf_layout="parquet"))
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "hf" / "train.parquet").to_pylist()}
    assert rows["c009-0"]["aligned"] is False         # the fit judgement stays: the table is an alignment set too
    assert rows["c009-0"]["intents"] is None and rows["c009-0"]["ner_tags"] is None    # not labelled, not "none"
    assert len(rows["c048-0"]["intents"]) == 1 and rows["c048-0"]["ner_tags"] == [0, 0]     # greeting; two O words
    assert hf.manifest["format_counts"]["rows_intents_not_labelled"] == 1


def test_native_keeps_the_fit_judgement_and_counts_the_turn(judged, tmp_path):
    native = export(judged, tmp_path / "native", fmt="native")
    rows = {r["id"]: r for r in _lines(tmp_path / "native" / "data.jsonl")}
    assert rows["c009-0"]["aligned"] is False and rows["c009-0"]["intents"] == []
    assert native.manifest["format_counts"]["rows_intents_not_labelled"] == 1


def test_multi_label_sets_keep_a_no_intent_applies_turn_single_label_sets_do_not(tmp_path):
    none_applies = turn("c1", 0, "just browsing", "Sure.", intents=[], sentiment="neutral")
    fit_only = turn("c2", 0, "Hi there", HOTELS, intents=[], aligned=False)
    multi = turn("c3", 0, "cancel and refund", "Done.", intents=["cancel", "refund"])
    kept = export_records([none_applies, fit_only, multi], tmp_path / "multi", fmt="intent-csv")["format_counts"]
    assert (kept["rows"], kept["rows_without_intents"], kept["rows_no_intent_applies"]) == (2, 1, 1)
    single = turn("c3", 0, "cancel it", "Done.", intents=["cancel"])
    left = export_records([none_applies, fit_only, single], tmp_path / "single", fmt="intent-csv")["format_counts"]
    assert (left["rows"], left["rows_without_intents"]) == (1, 2)


def test_chat_history_does_not_teach_a_misaligned_response(judged, tmp_path):
    chat = export(judged, tmp_path / "chat", fmt="chat")
    examples = {json.dumps(e["messages"][-2:], ensure_ascii=False): e["messages"] for e in _lines(tmp_path / "chat" / "data.jsonl")}
    booked = next(m for key, m in examples.items() if "book a table" in key)
    assert booked[:2] == [{"role": "user", "content": "Hi there"},
                          {"role": "assistant", "content": HOTELS, "weight": 0}]
    assert booked[-1] == {"role": "assistant", "content": "Done: a table for two at 8."}     # the final one is learned
    assert chat.manifest["format_counts"]["history_messages_weighted_0"] == 1


def test_chat_history_uses_a_correction_and_matches_repeated_exchanges_in_order(tmp_path):
    from store.formats.chat import history_turns, turns_by_conversation

    records = [
        turn("c", 0, "Hi", "Hello!", aligned=False),
        turn("c", 2, "Hi", "Hello!", [("user", "Hi"), ("assistant", "Hello!")], aligned=True),
        turn("c", 4, "where is it", "Ships today.", [("user", "Hi"), ("assistant", "Hello!"), ("user", "Hi"),
                                                        ("assistant", "Hello!")], aligned=True),
        turn("d", 0, "refund?", "No.", aligned=False, corrected_response="Yes, refunded."),
        turn("d", 2, "thanks", "You're welcome.", [("user", "refund?"), ("assistant", "No.")], aligned=True),
    ]
    matched = history_turns(records[2], turns_by_conversation(records))
    assert {position: t["id"] for position, t in matched.items()} == {1: "c-0", 3: "c-2"}
    counts = export_records(records, tmp_path / "chat", fmt="chat")["format_counts"]
    examples = {e["messages"][-2]["content"] + str(len(e["messages"])): e["messages"]
                for e in _lines(tmp_path / "chat" / "data.jsonl")}
    assert [m.get("weight") for m in examples["where is it6"] if m["role"] == "assistant"] == [0, None, None]
    assert examples["thanks4"][1] == {"role": "assistant", "content": "Yes, refunded."}
    assert (counts["history_messages_weighted_0"], counts["history_messages_corrected"]) == (2, 1)


def test_dpo_manifest_counts_misaligned_turns_without_a_correction(judged, tmp_path):
    """c009-0 pairs with c048-0's aligned reply to the same prompt ("Hi there", no context); c050-0 has
    no aligned reply to pair with until a reviewer corrects it."""
    before = export(judged, tmp_path / "before", fmt="dpo-trl").manifest["format_counts"]
    assert (before["rows"], before["misaligned_without_correction"]) == (1, 1)
    annotations.adjudicate(judged, annotation_id="fix-c050", turn_id="c050-0", project="default", reviewer="ana",
                           intents=["cancel_order"], aligned=False, corrected_response="Cancelled: order 42.")
    after = export(judged, tmp_path / "after", fmt="dpo-openai").manifest["format_counts"]
    assert (after["rows"], after["misaligned_without_correction"]) == (2, 0)


def test_dpo_counts_the_misaligned_turns_that_make_no_pair(tmp_path):
    records = [turn("a", 0, "refund?", "No.", aligned=False, corrected_response="Refunded."),
               turn("b", 0, "where is it", "Goodbye!", aligned=False),
               turn("c", 0, "cancel", "Hello!", aligned=False),
               turn("d", 0, "hi", "Hello!", aligned=True)]
    counts = export_records(records, tmp_path / "dpo", fmt="dpo-trl")["format_counts"]
    assert (counts["rows"], counts["misaligned_without_correction"]) == (1, 2)


def test_fix_messages_name_the_response_fit_in_words(judged, monkeypatch):
    assert fixes.fix_preview({}, "aligned", None, False)[:2] == [
        "Relabel to the suggestion: response fit: not judged -> misaligned",
        "Confirm the given label: response fit: not judged kept, stored as the adjudicated gold label"]
    assert fixes.fix_preview({"aligned": True}, "aligned", True, False)[0] == \
        "Relabel to the suggestion: response fit: aligned -> misaligned"
    flashed = []
    monkeypatch.setattr(fixes, "flash", lambda kind, message: flashed.append(message))
    fixes.apply_fix(judged, SimpleNamespace(username="ana"), "default", turn_id="c048-0", field="aligned", given=True,
                    value=False, action="relabel")
    assert flashed[0].startswith("c048-0: response fit: aligned -> misaligned.")
    notes = [r[0] for r in judged.query("SELECT note FROM annotations WHERE action = 'adjudicate' ORDER BY seq")]
    assert notes == ["analyst relabel: response fit: not judged -> misaligned",
                     "analyst relabel: response fit: aligned -> misaligned"]
