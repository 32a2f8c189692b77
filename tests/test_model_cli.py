"""ConcordModel and ``concord train / evaluate / predict`` end to end on a tiny from-scratch encoder.

The data is small and synthetic, in English, Chinese and with emoji, with responses, context turns,
judged-misaligned turns and turns without a response, so every branch of the bundle runs.
"""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from pipeline.model import ConcordModel, align_columns, split_holdout, turn_intent_distribution
from workbench.cli import main

INTENTS = {
    "track_order": (["where is my order {o} 📦", "track order {o} please", "我的订单{o}在哪里"],
                    ["Order {o} ships tomorrow.", "Your parcel {o} is on its way 🚚", "订单{o}明天发货"]),
    "refund": (["I want a refund for {o} 😤", "refund order {o}", "订单{o}我要退款"],
               ["The refund for {o} is on its way.", "We refunded order {o}.", "订单{o}的退款已处理"]),
    "book_hotel": (["book a hotel in {c}", "I need a room in {c} 🏨", "帮我订{c}的酒店"],
                   ["I found three hotels in {c}.", "Rooms in {c} are available.", "{c}有三家酒店可以预订"]),
    "greeting": (["hi there 👋", "hello", "你好"], ["Hello! How can I help?", "Hi, what can I do for you?", "您好，有什么可以帮您？"]),
}
SENTIMENT = {"track_order": "neutral", "refund": "negative", "book_hotel": "neutral", "greeting": "positive"}
ORDERS = ["A17", "B42", "C99", "D03"]
CITIES = ["北京", "Paris", "上海", "Rome"]


def fill(template: str, value_slot: str, value: str) -> tuple[str, list[dict]]:
    if value_slot not in template:
        return template, []
    start = template.index(value_slot)
    label = "order_id" if value_slot == "{o}" else "city"
    return template.replace(value_slot, value), [{"start": start, "end": start + len(value), "label": label}]


def make_dialogs(n_conv: int = 60, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for c in range(n_conv):
        context = []
        for t in range(3):
            intent = rng.choice(sorted(INTENTS))
            lang = rng.randrange(3)
            user_t, reply_t = INTENTS[intent][0][lang], INTENTS[intent][1][lang]
            slot, value = ("{o}", rng.choice(ORDERS)) if "{o}" in user_t else ("{c}", rng.choice(CITIES))
            text, entities = fill(user_t, slot, value)
            response = reply_t.replace(slot, value)
            aligned = True
            if rng.random() < 0.08:       # an off-topic reply, judged misaligned
                other = rng.choice([i for i in INTENTS if i != intent])
                response, aligned = INTENTS[other][1][lang].replace("{o}", "X00").replace("{c}", "Oslo"), False
            if t == 2 and c % 7 == 0:
                response, aligned = None, None
            records.append({"id": f"c{c}-{t}", "conversation_id": f"c{c}", "turn_index": 2 * t,
                            "context": list(context), "text": text, "response": response, "intents": [intent],
                            "entities": entities, "sentiment": SENTIMENT[intent], "aligned": aligned, "meta": {}})
            context += [{"speaker": "user", "text": text}] + ([{"speaker": "assistant", "text": response}] if response else [])
    return records


def write_jsonl(path, records) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from pipeline.tiny import build_tiny_encoder

    root = tmp_path_factory.mktemp("model_cli")
    train, test = make_dialogs(60, seed=1), make_dialogs(16, seed=2)
    texts = [r["text"] for r in train] + [r["response"] for r in train if r["response"]]
    encoder = build_tiny_encoder(texts, root / "tiny", hidden=64, layers=2, seed=0)
    write_jsonl(root / "train.jsonl", train)
    write_jsonl(root / "test.jsonl", test)
    return root, str(encoder), train, test


@pytest.fixture(autouse=True)
def private_cache(workspace, monkeypatch):
    monkeypatch.setenv("CONCORD_CACHE", str(workspace[0] / "cache"))


@pytest.fixture(scope="module")
def trained_dir(workspace):
    root, encoder, _, _ = workspace
    import os

    os.environ["CONCORD_CACHE"] = str(root / "cache")
    out = root / "model"
    assert main(["train", "--data", str(root / "train.jsonl"), "--out", str(out), "--encoder", encoder, "--quiet"]) == 0
    return out


def test_train_writes_a_versioned_bundle(trained_dir):
    manifest = json.loads((trained_dir / "model.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "concord-model" and manifest["format_version"] == 1
    assert manifest["encoder"]["identity"].startswith("tiny@")
    assert manifest["created_at"] and manifest["concord_version"]
    schema = json.loads((trained_dir / "schema.json").read_text(encoding="utf-8"))
    assert schema["intents"] == sorted(INTENTS) and set(schema["entities"]) == {"order_id", "city"}
    metrics = json.loads((trained_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["alignment"]["rank"] >= 1 and metrics["alignment"]["judged_misaligned"] > 0
    assert (trained_dir / "alignment.npz").is_file() and (trained_dir / "extractor" / "extractor.json").is_file()


def test_evaluate_json_has_the_issue_keys(trained_dir, workspace, capsys):
    root = workspace[0]
    assert main(["evaluate", "--model", str(trained_dir), "--data", str(root / "test.jsonl"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    for key in ("n", "intent_accuracy", "intent_macro_f1", "entity_f1", "sentiment_macro_f1", "alignment_roc_auc"):
        assert key in metrics
    assert metrics["n"] == len(workspace[3])
    assert 0 <= metrics["intent_accuracy"] <= 1 and metrics["alignment_roc_auc"] is not None
    assert metrics["intent_confusion"]["labels"] and metrics["entity_f1_per_type"]
    assert metrics["intent_accuracy"] > 0.5   # templated data: even a random tiny encoder separates it


def test_predict_rows_carry_spans_and_alignment(trained_dir, workspace):
    root, _, _, test = workspace
    out = root / "pred.jsonl"
    assert main(["predict", "--model", str(trained_dir), "--data", str(root / "test.jsonl"), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in test]
    by_id = {r["id"]: r for r in test}
    for row in rows:
        assert set(row) >= {"id", "intents", "intent_probs", "entities", "sentiment", "sentiment_probs",
                            "alignment_score", "misalignment_prob"}
        assert sum(row["intent_probs"].values()) == pytest.approx(1.0, abs=1e-6)
        text = by_id[row["id"]]["text"]
        for span in row["entities"]:
            assert 0 <= span["start"] < span["end"] <= len(text) and span["label"] in ("order_id", "city")
        if by_id[row["id"]]["response"] is None:
            assert row["alignment_score"] is None and row["misalignment_prob"] is None
        else:
            assert 0 <= row["alignment_score"] <= 1
    assert any(any(ord(ch) > 0x4E00 for ch in by_id[r["id"]]["text"]) and r["entities"] for r in rows)


def test_misaligned_replies_score_lower_than_aligned_ones(trained_dir, workspace):
    model = ConcordModel.load(trained_dir)
    test = workspace[3]
    rows = model.predict(test)
    aligned = [r["alignment_score"] for r, t in zip(rows, test) if t["aligned"] is True]
    judged = [r["alignment_score"] for r, t in zip(rows, test) if t["aligned"] is False]
    assert judged and np.mean(judged) < np.mean(aligned)


def test_load_round_trip_and_schema_check(trained_dir, workspace, tmp_path):
    model = ConcordModel.load(trained_dir)
    again = ConcordModel.load(model.save(tmp_path / "copy"))
    test = workspace[3][:12]
    a, b = model.predict(test), again.predict(test)
    for x, y in zip(a, b):
        assert x["intents"] == y["intents"] and x["entities"] == y["entities"]
        assert x["alignment_score"] == pytest.approx(y["alignment_score"], abs=1e-5, nan_ok=True) if x["alignment_score"] else y["alignment_score"] is None
    other = {**model.schema, "intents": model.schema["intents"] + ["cancel"]}
    with pytest.raises(ValueError, match=r"intents: missing \['cancel'\]"):
        ConcordModel.load(trained_dir, expect_schema=other)


def test_cli_reports_bad_input_as_file_line_field(trained_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": "x", "entities": [{"start": 3, "end": 9, "label": "a"}]}\n', encoding="utf-8")
    assert main(["predict", "--model", str(trained_dir), "--data", str(bad), "--out", str(tmp_path / "p.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: entities[0]: span [3, 9) is not inside the text" in err
    assert main(["evaluate", "--model", str(tmp_path / "missing"), "--data", str(bad)]) == 2
    assert "not a Concord model directory" in capsys.readouterr().err


def test_train_refuses_to_overwrite_an_unrelated_directory(workspace, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    root, encoder, _, _ = workspace
    assert main(["train", "--data", str(root / "train.jsonl"), "--out", str(tmp_path), "--encoder", encoder, "--quiet"]) == 2
    assert "is not an empty directory or a Concord model" in capsys.readouterr().err


def test_helpers_on_plain_arrays():
    probs = np.array([[0.2, 0.8]])
    np.testing.assert_allclose(align_columns(probs, ["a", "b"], ["b", "c", "a"], fill=0.5), [[0.8, 0.5, 0.2]])
    targets = np.array([[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(turn_intent_distribution(targets, np.array([[0.3, 0.7], [0.9, 0.1]])),
                               [[0.3, 0.7], [0.5, 0.5]])
    records = make_dialogs(40, seed=3)
    held = split_holdout(records, seed=0)
    conversations = {r["conversation_id"]: h for r, h in zip(records, held)}
    assert 0 < held.mean() < 0.4
    assert all(conversations[r["conversation_id"]] == h for r, h in zip(records, held))   # whole conversations


def test_predict_uses_the_sentiment_decision_rule_not_plain_argmax(trained_dir, workspace):
    model = ConcordModel.load(trained_dir)
    head = model.extractor.heads["sentiment"]
    rare = "positive"
    head.decision_offset = np.where(np.array(head.classes) == rare, 1e3, 0.0)   # the rule says: always positive
    rows = model.predict(workspace[3][:10])
    assert {row["sentiment"] for row in rows} == {rare}
    assert any(max(row["sentiment_probs"], key=row["sentiment_probs"].get) != rare for row in rows)


def test_explicit_validation_turns_never_train_the_alignment_parts(workspace):
    """With ``valid`` given, the ridge and the response classifier see only the training turns, so
    held-out predictions stay out-of-sample (the worker's health views rely on it); ``alignment_refit_on``
    then refits a copy on everything for deployment."""
    from pipeline.encoders import load_encoder

    _, encoder_dir, train, test = workspace
    encoder = load_encoder(encoder_dir)
    relabelled = [dict(r, intents=["greeting"]) for r in test]        # held-out labels that would pull it away
    probe = np.asarray(encoder.embed([r["response"] for r in train if r["response"]][:12]))

    def response_probs(model):
        return model.alignment.response_classifier.predict_proba(probe)

    a = ConcordModel.train(train, encoder=encoder, valid=test, seed=0)
    b = ConcordModel.train(train, encoder=encoder, valid=relabelled, seed=0)
    np.testing.assert_allclose(response_probs(a), response_probs(b))
    np.testing.assert_allclose(a.alignment.ridge.U, b.alignment.ridge.U)
    deployed = b.alignment_refit_on(train + relabelled)
    assert not np.allclose(response_probs(b), deployed.response_classifier.predict_proba(probe))
    assert deployed is not b.alignment and b.alignment.ridge is not deployed.ridge


@pytest.mark.slow
def test_packaged_encoder_on_the_sample_dialogs(repo_root, tmp_path, monkeypatch):
    """The real encoder on Concord's own sample set: judged-misaligned replies rank low, fusion is learned."""
    from store.readers import read_files

    monkeypatch.setenv("CONCORD_CACHE", str(tmp_path / "cache"))
    records = read_files([repo_root / "sample_data" / "dialogs.jsonl"]).records
    test_ids = {r["conversation_id"] for r in records if int(r["conversation_id"][1:]) % 4 == 0}
    train = [r for r in records if r["conversation_id"] not in test_ids]
    test = [r for r in records if r["conversation_id"] in test_ids]
    model = ConcordModel.train(train, mode="fast", seed=0)
    metrics = model.evaluate(test)
    assert metrics["alignment_roc_auc"] > 0.8
    assert metrics["intent_accuracy"] >= metrics["intent_accuracy_text_only"] - 0.05
    rows = ConcordModel.load(model.save(tmp_path / "m")).predict(test)
    assert all(r["alignment_score"] is not None for r, t in zip(rows, test) if t["response"])
