"""Tiny from-scratch encoders for tests: a WordPiece vocabulary trained in-process and a random BERT.

Why: unit tests must run in seconds, offline, without the packaged encoder; a 2-layer, 64-wide
BERT over a vocabulary trained on the test's own texts exercises exactly the same code paths
(fast tokenizer offsets, mean pooling, fine-tuning) as a real model. Chinese is split per character
by the BERT normaliser, so Chinese test texts never collapse into [UNK].
"""
from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece(texts: list[str], *, vocab_size: int = 2000):
    """A BERT-style (lower-cased, per-CJK-character) WordPiece ``tokenizers.Tokenizer``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=1)
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tokenizer


def build_tiny_encoder(texts: list[str], out_dir, *, hidden: int = 64, layers: int = 2, heads: int = 2,
                       seed: int = 0, vocab_size: int = 2000, max_positions: int = 128) -> Path:
    """Save a random-init ``BertModel`` and its trained WordPiece tokenizer; ``load_encoder(path)`` loads it."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    if not texts:
        raise ValueError("build_tiny_encoder: expected at least one text to train the vocabulary, got 0")
    if hidden % heads:
        raise ValueError(f"build_tiny_encoder: hidden ({hidden}) must be divisible by heads ({heads})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    backend = train_wordpiece(texts, vocab_size=vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=max_positions)
    tokenizer.save_pretrained(out)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=backend.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=hidden * 2, max_position_embeddings=max_positions)
    BertModel(config).save_pretrained(out)
    return out
