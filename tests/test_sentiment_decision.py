"""Sentiment macro-F1 decision offsets and the budget-aware fine-tuning schedule (pure functions, a tiny encoder)."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CONCORD_THREADS", "1")

from pipeline.heads import LinearHead, fit_decision_offsets, macro_f1_from_indices  # noqa: E402
from pipeline.joint import budget_aware_linear_schedule  # noqa: E402


def rare_class_problem(n: int, seed: int):
    """Calibrated 3-class probabilities where class 2 is rare (10%) and never wins a plain argmax
    often enough: its probability is high for its own rows, but rarely above the common classes'."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.5, 0.4, 0.1])
    logits = rng.normal(0, 1, size=(n, 3))
    logits[np.arange(n), y] += 1.5
    logits += np.log([0.5, 0.4, 0.1])     # the prior: a calibrated model leans toward common classes
    probs = np.exp(logits - logits.max(1, keepdims=True))
    return probs / probs.sum(1, keepdims=True), y


def test_macro_f1_from_indices_matches_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 300), rng.integers(0, 3, 300)   # class 3 is never predicted
    assert macro_f1_from_indices(y_true, y_pred, 4) == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_offsets_raise_held_out_macro_f1_for_a_rare_class():
    fit_probs, fit_y = rare_class_problem(3000, seed=1)
    test_probs, test_y = rare_class_problem(3000, seed=2)
    offsets = fit_decision_offsets(fit_probs, fit_y)
    assert offsets[2] > offsets[0]                       # the rare class gets the lower bar
    argmax_f1 = macro_f1_from_indices(test_y, test_probs.argmax(1), 3)
    adjusted_f1 = macro_f1_from_indices(test_y, (np.log(test_probs) + offsets).argmax(1), 3)
    assert adjusted_f1 > argmax_f1 + 0.01
    assert abs(float(offsets.sum())) < 1e-5              # centred


def test_offsets_stay_zero_without_enough_evidence():
    probs, y = rare_class_problem(30, seed=3)
    assert not fit_decision_offsets(probs, y).any()      # below min_rows: plain argmax
    many, _ = rare_class_problem(200, seed=4)
    assert not fit_decision_offsets(many, np.zeros(200, int)).any()   # one class only
    with pytest.raises(ValueError, match="expected probs"):
        fit_decision_offsets(probs, y[:-1])


def test_head_decision_uses_offsets_and_keeps_probabilities():
    head = LinearHead(["a", "b"], np.eye(2, 3), np.zeros(2))
    X = np.array([[2.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    before = head.predict_proba(X)
    assert head.decide(before).tolist() == [0, 0]
    head.decision_offset = np.array([0.0, 1.0], np.float32)   # b wins where log-odds of a are below 1
    assert np.array_equal(head.predict_proba(X), before)
    assert head.decide(before).tolist() == [0, 1]
    arrays = head.to_arrays("sentiment")
    assert LinearHead.from_arrays(arrays, "sentiment").decision_offset.tolist() == [0.0, 1.0]
    del arrays["sentiment.decision_offset"]                   # an artifact saved before offsets existed
    assert LinearHead.from_arrays(arrays, "sentiment").decision_offset.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"expected decision_offset \(2,\)"):
        LinearHead(["a", "b"], np.eye(2, 3), np.zeros(2), decision_offset=np.zeros(3))


@pytest.fixture(scope="module")
def sentiment_model(tmp_path_factory):
    from pipeline.encoders import load_encoder
    from pipeline.extractor import Extractor
    from pipeline.tiny import build_tiny_encoder

    rng = np.random.default_rng(0)
    words = {"positive": ["great", "love", "thanks"], "negative": ["awful", "hate", "broken"],
             "neutral": ["order", "monday", "address"]}
    labels = rng.choice(sorted(words), size=300, p=[0.2, 0.5, 0.3])
    records = [{"id": f"s{i}", "text": f"{rng.choice(words[lab])} {rng.choice(words['neutral'])} item {i % 7}",
                "sentiment": str(lab)} for i, lab in enumerate(labels)]
    path = build_tiny_encoder([r["text"] for r in records], tmp_path_factory.mktemp("tiny"), hidden=64, layers=2)
    encoder = load_encoder(str(path), cache_dir=tmp_path_factory.mktemp("cache"))
    return Extractor.train(records, mode="fast", encoder=encoder, seed=0), records


def test_extractor_predictions_follow_the_saved_decision_rule(sentiment_model, tmp_path):
    from pipeline.extractor import Extractor

    model, records = sentiment_model
    head = model.heads["sentiment"]
    assert head.decision_offset.shape == (3,)            # fitted in fast mode on the carved calibration split
    before = model.predict_arrays(records[:40]).sentiment_probs
    negative = head.classes.index("negative")
    assert (before.argmax(1) != negative).any()          # a plain argmax would not say negative everywhere
    forced = np.zeros(3, np.float32)
    forced[negative] = 50.0                              # a rule that always says negative
    head.decision_offset = forced
    rows = model.predict(records[:40])
    assert {r["sentiment"] for r in rows} == {"negative"}
    after = np.array([[r["sentiment_probs"][c] for c in head.classes] for r in rows])
    np.testing.assert_allclose(after, before, atol=1e-6)  # probabilities untouched
    loaded = Extractor.load(model.save(tmp_path / "m"), cache_dir=tmp_path / "cache")
    assert {r["sentiment"] for r in loaded.predict(records[:40])} == {"negative"}
    assert model.decide_sentiment(np.array([[0.9, 0.05, 0.05]])) == ["negative"]


def test_schedule_without_deadline_is_the_linear_warmup_decay():
    from transformers import get_linear_schedule_with_warmup

    import torch

    factor = budget_aware_linear_schedule(total_steps=100, warmup_fraction=0.1)
    reference = get_linear_schedule_with_warmup(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), 10, 100)
    expected = [reference.lr_lambdas[0](step) for step in range(101)]
    assert [factor(step) for step in range(101)] == pytest.approx(expected)


def test_schedule_decays_to_zero_at_the_deadline_when_the_pace_misses_it():
    now = {"t": 0.0}
    factor = budget_aware_linear_schedule(total_steps=1000, warmup_fraction=0.1, deadline=100.0, clock=lambda: now["t"])
    now["t"] = 50.0                                     # half the budget gone after 20 of 1000 steps
    assert factor(20) == pytest.approx((1 - 0.5) / 0.9)
    now["t"] = 100.0
    assert factor(40) == 0.0
    quick = budget_aware_linear_schedule(total_steps=1000, warmup_fraction=0.1, deadline=1e6, clock=lambda: now["t"])
    now["t"] = 101.0                                    # far ahead of the deadline: steps alone set the rate
    assert quick(500) == pytest.approx((1 - 0.5) / 0.9)


def test_precision_choice_is_validated():
    from pipeline.joint import resolve_precision

    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto") in ("fp32", "bf16")
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp16")


@pytest.mark.parametrize("freeze, precision", [(True, "bf16"), (False, "fp32")])
def test_full_mode_freezes_only_the_word_embeddings_when_asked(sentiment_model, freeze, precision):
    from pipeline.extractor import Extractor, evaluate

    fast, records = sentiment_model
    full = Extractor.train(records, mode="full", encoder=fast.encoder, seed=0, max_epochs=2, lr=1e-3, head_lr=3e-3,
                           batch_size=16, freeze_word_embeddings=freeze, precision=precision)
    assert full.train_metrics["precision"] == precision
    before, after = fast.encoder.model, full.encoder.model
    same_words = torch_equal(before.get_input_embeddings().weight, after.get_input_embeddings().weight)
    assert same_words == freeze
    assert not torch_equal(before.encoder.layer[0].attention.self.query.weight, after.encoder.layer[0].attention.self.query.weight)
    assert evaluate(full, records)["sentiment_macro_f1"] > 0.8


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a.detach(), b.detach()))


def test_offsets_that_do_not_carry_across_halves_are_dropped():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 400)
    probs = rng.dirichlet(np.ones(3), size=400)               # no signal: any offset only fits noise
    assert not fit_decision_offsets(probs, y).any()
    assert fit_decision_offsets(probs, y, cross_check=False).any()
