"""A doccano export imports back whole: every turn, with its context, conversation, meta and spans.

The doccano export wrote no ``context`` and no ``meta``, so two turns with the same text and response
in different conversations ("好的，谢谢！" -> "不客气…" closes many chats) had the same content on the way
back in: the import kept one and skipped the other as a duplicate, and every turn came back with an
empty context and meta. Texts are Chinese and emoji, spans in code points, as in sample_data.
"""
import json

from store import Store, importer
from store.export import export

THANKS, WELCOME = "好的，谢谢！", "不客气，祝您生活愉快！"
REFUND = "退款 🙂 订单ORD-4577512"   # the emoji is one code point: the order id starts at 7


def _turn(conversation, index, context, text, response, meta, entities=()):
    return {"id": f"{conversation}-{index}", "conversation_id": conversation, "turn_index": index,
            "context": context, "text": text, "response": response, "intents": ["thanks_goodbye"],
            "entities": list(entities), "sentiment": "positive", "aligned": True, "meta": meta}


def _project_turns() -> list[dict]:
    """Two conversations, each ending with the same thanks and reply after a different first turn."""
    refund_reply, hello_reply = "退款¥1,280将在收到退货后原路退回。", "您好 👋 有什么可以帮您？"
    refund = _turn("c1", 0, [], REFUND, refund_reply, {"lang": "zh", "ticket": 4411},
                   [{"start": 7, "end": 18, "label": "order_id"}])
    hello = _turn("c2", 0, [], "你好 👋", hello_reply, {"lang": "zh", "source": "crm"})
    return [refund, hello,
            _turn("c1", 2, [{"speaker": "user", "text": REFUND}, {"speaker": "assistant", "text": refund_reply}],
                  THANKS, WELCOME, {"lang": "zh"}),
            _turn("c2", 2, [{"speaker": "user", "text": "你好 👋"}, {"speaker": "assistant", "text": hello_reply}],
                  THANKS, WELCOME, {"channel": "app"})]


def _stored(db) -> dict:
    rows = db.query("SELECT turn_id, conversation_id, turn_index, context, meta FROM turns")
    return {r[0]: (r[1], r[2], list(r[3]), json.loads(r[4])) for r in rows}


def test_doccano_export_imports_back_every_turn_with_context_conversation_meta_and_spans(db, tmp_path):
    turns = _project_turns()
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in turns), encoding="utf-8")
    assert importer.import_files(db, [source]).ok
    export(db, tmp_path / "doccano", fmt="doccano")
    export(db, tmp_path / "native", fmt="native")
    with Store(tmp_path / "copy.duckdb") as copy:
        report = importer.import_files(copy, [tmp_path / "doccano" / "data.jsonl"], fmt="doccano")
        assert report.ok, report.summary()
        assert _stored(copy) == {t["id"]: (t["conversation_id"], t["turn_index"], t["context"], t["meta"])
                                 for t in turns}
        export(copy, tmp_path / "again", fmt="native")
    first, again = ((tmp_path / d / "data.jsonl").read_text(encoding="utf-8") for d in ("native", "again"))
    assert again == first      # labels too: intents, spans, sentiment, fit
    refund = next(json.loads(line) for line in again.splitlines() if json.loads(line)["id"] == "c1-0")
    span = refund["entities"][0]
    assert REFUND[span["start"]:span["end"]] == "ORD-4577512"
