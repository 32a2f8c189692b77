"""Fast mode: light heads on a frozen encoder's cached embeddings, refit in seconds.

Intent and sentiment are multinomial logistic regressions on the sentence embedding (one-vs-rest
sigmoids for multi-label intents); the tagger is a logistic regression on each subword vector
concatenated with its neighbours, decoded with BIO-constrained Viterbi (``pipeline.tagging``).
Subwords outside entities dominate, so they are subsampled for speed and the O logit is shifted by
-log(rate) to undo the sampling bias exactly. Every head gets a temperature fitted on held-out
turns (the ``valid`` records, or a seeded 20% carved out of training, after which the head is
refit on everything, warm-started, with that temperature).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.extractor import window_features
from pipeline.heads import LinearHead, fit_decision_offsets, fit_sigmoid_head, fit_softmax_head, fit_temperature
from pipeline.tagging import OUTSIDE, encode_bio, tag_names
from store.records import intent_labelled

CALIBRATION_FRACTION = 0.2
MIN_CALIBRATION = 20        # fewer held-out turns than this: keep T = 1 (no reliable estimate)
INTENT_C = 20.0             # inverse L2 strength on unit-norm sentence embeddings (chosen on Bitext/NLU++)
SENTIMENT_C = 3.0           # chosen on a GoEmotions validation split carved from train (C 0.3-20 within 0.005)
TAGGER_C = 1.0
# Subsampling: keep about this many O subwords per entity subword. 2 rather than 4: Bitext+SGD entity F1
# 0.819/0.812 vs 0.816/0.799 (seeds 0/1), Bitext 0.987 vs 0.983, and the tagger fit (most of a 10k-turn
# refit) costs about 40% less CPU; 1 was worse (0.798).
O_PER_ENTITY_TOKEN = 2
MIN_O_TOKENS = 5000
# One BLAS thread for head fitting, deliberately: the problems are small, and on a shared CPU two
# threads made L-BFGS 5-7x slower (OpenBLAS spin-waits on every small vector operation).
HEAD_FIT_THREADS = 1


@dataclass
class _Features:
    sentences: np.ndarray
    tokens: list | None     # TokenFeatures per record, when there is a tagger to fit


def _features(encoder, records: list[dict], with_tokens: bool) -> _Features:
    texts = [r["text"] for r in records]
    if with_tokens:
        return _Features(*encoder.embed_with_tokens(texts))
    return _Features(encoder.embed(texts), None)


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_calib = int(round(n * CALIBRATION_FRACTION))
    if n_calib < MIN_CALIBRATION:
        return np.arange(n), np.arange(0)
    return np.sort(order[n_calib:]), np.sort(order[:n_calib])


# ---------------------------------------------------------------- per-head data
def _intent_data(records, feats, idx, schema):
    rows = [i for i in idx if intent_labelled(records[i], schema["multi_label"])]
    X = feats.sentences[rows] if rows else np.zeros((0, feats.sentences.shape[1]), np.float32)
    if schema["multi_label"]:
        classes = schema["intents"]
        Y = np.array([[c in records[i]["intents"] for c in classes] for i in rows], dtype=float).reshape(len(rows), len(classes))
        return X, Y
    return X, np.array([records[i]["intents"][0] for i in rows], dtype=object)


def _sentiment_data(records, feats, idx, schema):
    rows = [i for i in idx if records[i].get("sentiment")]
    X = feats.sentences[rows] if rows else np.zeros((0, feats.sentences.shape[1]), np.float32)
    return X, np.array([records[i]["sentiment"] for i in rows], dtype=object)


def _tagger_data(records, feats, idx, schema, window: int):
    """(X, y): every subword of ``idx``'s turns, its vector with ``window`` neighbours each side, and its tag."""
    y, vectors = _subword_tags(records, feats, idx, schema)
    width = feats.tokens[0].vectors.shape[1] * (2 * window + 1) if feats.tokens else 0
    if not vectors:
        return np.zeros((0, width), np.float32), y
    return np.concatenate([window_features(v, window) for v in vectors]), y


def _tagger_fit_data(records, feats, idx, schema, window: int, *, seed: int):
    """(X, y, rate) to fit the tagger on: every entity subword and a seeded share ``rate`` of O subwords
    (``_outside_rows``), chosen before the windowed rows are built so the (2·window+1)·dim-wide matrix
    of every subword (mostly O; gigabytes at 100k labelled turns) is never materialised."""
    y, vectors = _subword_tags(records, feats, idx, schema)
    if not vectors:
        return _tagger_data(records, feats, idx, schema, window) + (1.0,)
    rows, rate = _outside_rows(y, seed)
    return _windowed_rows(vectors, rows, window), y[rows], rate


def _subword_tags(records, feats, idx, schema) -> tuple[np.ndarray, list[np.ndarray]]:
    """(BIO tag name per subword of ``idx``'s turns, concatenated; those turns' subword vectors)."""
    names = tag_names(schema["entities"])
    name_array = np.array(names, dtype=object)
    tokens = [feats.tokens[i] for i in idx]
    tags = [name_array[encode_bio(t.offsets, records[i].get("entities") or [], names)] for i, t in zip(idx, tokens)]
    return (np.concatenate(tags) if tags else np.array([], dtype=object)), [t.vectors for t in tokens]


def _windowed_rows(vectors: list[np.ndarray], rows: np.ndarray, window: int) -> np.ndarray:
    """Rows ``rows`` (indices into the turns' concatenated subwords) of ``window_features`` per turn:
    each subword's vector beside its ``window`` neighbours on each side, zeros past its turn's ends."""
    flat = np.concatenate(vectors)
    lengths = np.array([len(v) for v in vectors])
    ends = np.cumsum(lengths)
    turn = np.searchsorted(ends, rows, side="right")
    position, length = rows - (ends[turn] - lengths[turn]), lengths[turn]
    parts = []
    for offset in range(-window, window + 1):
        inside = (position + offset >= 0) & (position + offset < length)
        part = flat[np.where(inside, rows + offset, 0)]
        part[~inside] = 0.0
        parts.append(part)
    return np.concatenate(parts, axis=1)


# ----------------------------------------------------------------- fitting
def _outside_rows(y, seed: int) -> tuple[np.ndarray, float]:
    """(rows to keep, rate): every entity subword and a random share ``rate`` of O subwords."""
    outside = y == OUTSIDE
    n_out, n_in = int(outside.sum()), int((~outside).sum())
    keep_out = max(MIN_O_TOKENS, O_PER_ENTITY_TOKEN * n_in)
    if n_out <= keep_out:
        return np.arange(len(y)), 1.0
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.flatnonzero(outside), size=keep_out, replace=False)
    return np.sort(np.concatenate([np.flatnonzero(~outside), chosen])), keep_out / n_out


def _fit_softmax(X, y, *, C, warm_start=None, rate: float = 1.0):
    """A softmax head; ``rate`` < 1 says O rows were subsampled at that rate, undone by a prior shift."""
    head = fit_softmax_head(X, list(y), C=C, warm_start=warm_start)
    if rate < 1.0 and OUTSIDE in head.classes:
        head.prior_shift[head.classes.index(OUTSIDE)] = -np.log(rate)
    return head


def platt_sigmoid(logits, targets) -> tuple[float, float]:
    """One temperature and one logit shift shared by every label (Platt scaling), by held-out NLL.

    Why a shift and not only a temperature: an L2-regularised one-vs-rest head trained on few
    positives per label pulls every logit towards "absent", so its label sets miss labels; the
    shift that calibrates the held-out probabilities moves the p = 0.5 decision back, and it
    shrinks as labels accumulate. On NLU++ (exact label-set accuracy, bench/bench_active.py):
    about +1.1 logits and +6 to +9 points at 300 labels, +0.4 logits and +1 point at 2,467.
    Returns (temperature, shift) for ``LinearHead``: p = sigmoid((z + shift) / temperature).
    """
    from scipy.optimize import minimize

    z, t = np.asarray(logits, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if z.shape != t.shape or z.ndim != 2:
        raise ValueError(f"platt_sigmoid: expected logits and targets of one (n, k) shape, got {z.shape} and {t.shape}")

    def nll(params):
        s = params[0] * z + params[1]
        g = (1.0 / (1.0 + np.exp(-np.clip(s, -60, 60))) - t) / t.size
        return float(np.mean(np.logaddexp(0, s) - t * s)), np.array([(g * z).sum(), g.sum()])

    a, b = minimize(nll, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B",
                    bounds=[(1e-2, 1e2), (-10.0, 10.0)]).x
    return float(1.0 / a), float(b / a)


def _temperature(head: LinearHead, X, y) -> float:
    if len(X) < MIN_CALIBRATION:
        return 1.0
    if head.kind == "sigmoid":  # temperature and a shared shift (Platt), kept in prior_shift
        temperature, shift = platt_sigmoid(head.logits(X), y)
        head.prior_shift = np.full(len(head.classes), shift, np.float32)
        return temperature
    known = np.array([label in head.classes for label in y], dtype=bool)
    if known.sum() < MIN_CALIBRATION or len(head.classes) < 2:
        return 1.0
    targets = np.array([head.classes.index(label) for label in y[known]])
    return fit_temperature(head.logits(X[known]), targets)


def decision_offsets(head: LinearHead, X, y) -> np.ndarray:
    """Macro-F1 decision offsets for a (calibrated) softmax head from held-out rows ``X``, labels ``y``."""
    known = np.array([label in head.classes for label in y], dtype=bool)
    if head.kind != "softmax" or len(head.classes) < 2 or not known.any():
        return np.zeros(len(head.classes), np.float32)
    targets = np.array([head.classes.index(label) for label in y[known]])
    return fit_decision_offsets(head.predict_proba(X[known]), targets)


def _fit_head(data_fn, *, kind: str, classes=None, C: float, fit_idx, calib, seed: int, tagger=False,
              macro_f1_decision=False, warm: LinearHead | None = None):
    """Fit on ``fit_idx`` (from ``warm``'s weights when its classes match), temperature (and, if asked,
    macro-F1 decision offsets) on ``calib`` (records, feats, idx); refit on all if carved, keeping what
    the held-out turns gave."""
    records, feats, all_idx = data_fn.base

    def fit(idx, warm=None):
        if tagger:
            X, y, rate = _tagger_fit_data(records, feats, idx, **data_fn.kw, seed=seed)
        else:
            (X, y), rate = data_fn(records, feats, idx), 1.0
        if len(X) == 0 or (kind == "softmax" and len(set(y)) == 0):
            return None
        if warm is not None and warm.weight.shape[1] != X.shape[1]:   # other features (tag window, encoder)
            warm = None
        if kind == "sigmoid":
            return fit_sigmoid_head(X, y, classes, C=C, warm_start=warm)
        return _fit_softmax(X, y, C=C, warm_start=warm, rate=rate)

    head = fit(fit_idx, warm=warm)
    if head is None:
        return None
    calib_records, calib_feats, calib_idx = calib
    if len(calib_idx):
        held_out = data_fn(calib_records, calib_feats, calib_idx)
        head.temperature = _temperature(head, *held_out)
        if macro_f1_decision:
            head.decision_offset = decision_offsets(head, *held_out)
    if len(fit_idx) < len(all_idx):  # carved: refit on every turn, keep the held-out temperature and offsets
        refit = fit(all_idx, warm=head)
        refit.temperature, refit.decision_offset = head.temperature, head.decision_offset
        if kind == "sigmoid":
            refit.prior_shift = head.prior_shift  # the held-out Platt shift
        head = refit
    return head


def _copy_calibration(heads: dict, calibrated: dict) -> None:
    """Give ``heads`` the temperature, decision offsets and, for sigmoid heads, the Platt shift of the
    ``calibrated`` heads of the same classes (in place).

    Why: a refit that trained on the held-out turns must not calibrate on them too: in-sample logits
    look certain, the fitted temperature shrinks, and nearly every probability reads 1.0 (measured on
    the sample data: 98% of sentiment maxima). The model that never saw them knows better.
    """
    for name, head in heads.items():
        source = calibrated.get(name)
        if head is None or source is None or list(source.classes) != list(head.classes):
            continue
        head.temperature, head.decision_offset = source.temperature, source.decision_offset.copy()
        if head.kind == "sigmoid":
            head.prior_shift = source.prior_shift.copy()


class _Data:
    """Binds a per-head data builder to the training set, so fit/calibrate can slice by index."""

    def __init__(self, fn, base, **kw):
        self.fn, self.base, self.kw = fn, base, kw

    def __call__(self, records, feats, idx):
        return self.fn(records, feats, idx, **self.kw)


def train_fast(records: list[dict], schema: dict, encoder, *, valid: list[dict] | None = None, seed: int = 0,
               progress=None, intent_C: float = INTENT_C, sentiment_C: float = SENTIMENT_C, tagger_C: float = TAGGER_C,
               tag_window: int = 1, calibrate: bool = True, warm_heads: dict | None = None,
               calibration_from: dict | None = None) -> tuple[dict, dict]:
    """Fit the heads ``schema`` calls for; returns (heads, info).

    ``warm_heads`` (e.g. the previous model's ``Extractor.heads``) start L-BFGS from their weights: a refit
    on a few more labels then converges in a few iterations instead of from zero (same optimum, within tol).
    ``calibration_from``: heads calibrated on turns these ``records`` now include (the worker's refit after
    its held-out evaluation); their calibration is kept instead of fitting one in-sample.

    The sentiment head also gets macro-F1 decision offsets from the held-out turns (``LinearHead.decide``)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=HEAD_FIT_THREADS):
        return _train_fast(records, schema, encoder, valid=valid, seed=seed, progress=progress, intent_C=intent_C,
                           sentiment_C=sentiment_C, tagger_C=tagger_C, tag_window=tag_window,
                           calibrate=calibrate and not calibration_from, warm_heads=warm_heads or {},
                           calibration_from=calibration_from or {})


def _train_fast(records, schema, encoder, *, valid, seed, progress, intent_C, sentiment_C, tagger_C, tag_window,
                calibrate, warm_heads, calibration_from):
    report = progress or (lambda stage, fraction: None)
    with_tokens = bool(schema["entities"])
    report("embedding", 0.0)
    feats = _features(encoder, records, with_tokens)
    all_idx = np.arange(len(records))
    if not calibrate:
        fit_idx, calib = all_idx, ([], None, np.arange(0))
    elif valid:
        fit_idx, calib = all_idx, (valid, _features(encoder, valid, with_tokens), np.arange(len(valid)))
    else:
        fit_idx, calib_idx = _split(len(records), seed)
        calib = (records, feats, calib_idx)
    base = (records, feats, all_idx)
    heads: dict[str, LinearHead | None] = {"intent": None, "sentiment": None, "tagger": None}
    report("intent", 0.3)
    if schema["intents"]:
        kind = "sigmoid" if schema["multi_label"] else "softmax"
        heads["intent"] = _fit_head(_Data(_intent_data, base, schema=schema), kind=kind, classes=schema["intents"],
                                    C=intent_C, fit_idx=fit_idx, calib=calib, seed=seed, warm=warm_heads.get("intent"))
    report("sentiment", 0.5)
    if schema["sentiments"]:
        heads["sentiment"] = _fit_head(_Data(_sentiment_data, base, schema=schema), kind="softmax", C=sentiment_C,
                                       fit_idx=fit_idx, calib=calib, seed=seed, macro_f1_decision=True,
                                       warm=warm_heads.get("sentiment"))
    report("entities", 0.7)
    if with_tokens:
        heads["tagger"] = _fit_head(_Data(_tagger_data, base, schema=schema, window=tag_window), kind="softmax",
                                    C=tagger_C, fit_idx=fit_idx, calib=calib, seed=seed, tagger=True,
                                    warm=warm_heads.get("tagger"))
    _copy_calibration(heads, calibration_from)
    info = {"mode": "fast", "tag_window": tag_window,
            "temperatures": {k: round(h.temperature, 4) for k, h in heads.items() if h is not None},
            "n_calibration": int(len(calib[2]))}
    return heads, info
