"""The models ``pipeline.simulate`` refits at every step of a simulated labelling session.

Both learners answer the same four questions: fit on these pool rows, how good are you on the
test set, what do you say about the rest of the pool (the arrays ``select_batch`` takes), and what
are the pool's embeddings (for cold start). ``EmbeddingLearner`` embeds once and refits only a
logistic-regression intent head (hundreds of refits in seconds); ``ExtractorLearner`` retrains the
whole ``Extractor`` (entities, sentiment, or ``full`` fine-tuning) and uses its own evaluation.
"""
from __future__ import annotations

import warnings

import numpy as np


def data_shape(records: list[dict]) -> dict:
    """Which labels the records carry: decides the learner and which metrics the curve has."""
    return {
        "multi_label": any(len(r.get("intents") or []) > 1 for r in records),
        "has_spans": any(r.get("entities") for r in records),
        "has_sentiment": any(r.get("sentiment") for r in records),
    }


def _load(encoder):
    if encoder is None or isinstance(encoder, str):
        from pipeline.encoders import load_encoder

        return load_encoder(encoder)
    return encoder


def _texts(records: list[dict]) -> list[str]:
    return [r["text"] for r in records]


def intent_metrics(y_true: np.ndarray, y_pred: np.ndarray, *, multi_label: bool) -> dict:
    """Accuracy (exact label set for multi-label) and macro-F1 over the labels in play."""
    from sklearn.metrics import accuracy_score, f1_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined F1 for labels never predicted is 0 by design
        return {
            "intent_accuracy": float(accuracy_score(y_true, y_pred)),
            "intent_macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        }


def fit_calibrated_head(x: np.ndarray, y: np.ndarray, *, classes: list | None = None, seed: int = 0,
                        warm_start=None):
    """The fast intent head on arrays, the way ``pipeline.fast`` trains it.

    ``classes`` given: a multi-label sigmoid head on a 0/1 matrix ``y``; else a softmax head on
    labels ``y``. With enough rows a seeded 20% is held out for calibration (``fast._temperature``:
    a temperature; for sigmoid heads also the shared Platt shift, ``fast.platt_sigmoid``), then
    the head is refit on all rows, warm-started, keeping the calibration.
    """
    from pipeline.fast import INTENT_C, _split, _temperature
    from pipeline.heads import fit_sigmoid_head, fit_softmax_head

    def fit(rows, warm):
        with warnings.catch_warnings():  # a 20-label seed set has "many classes per sample": expected
            warnings.filterwarnings("ignore", message="The number of unique classes")
            if classes is not None:
                return fit_sigmoid_head(x[rows], y[rows], classes, C=INTENT_C, warm_start=warm)
            return fit_softmax_head(x[rows], list(y[rows]), C=INTENT_C, warm_start=warm)

    fit_rows, calib_rows = _split(len(x), seed)
    head = fit(fit_rows, warm_start)
    if len(calib_rows) == 0:
        return head
    head.temperature = _temperature(head, x[calib_rows], y[calib_rows])  # sigmoid: + Platt shift
    refit = fit(np.arange(len(x)), head)
    refit.temperature = head.temperature
    if classes is not None:  # the sigmoid head's Platt shift (a softmax refit may have more classes)
        refit.prior_shift = head.prior_shift
    return refit


class EmbeddingLearner:
    """Intent-only learner: logistic regression on cached sentence embeddings."""

    def __init__(self, pool: list[dict], test: list[dict], *, encoder=None):
        self.multi_label = data_shape(pool)["multi_label"]
        if not self.multi_label:  # single-label: a turn without an intent says nothing to the head
            pool = [r for r in pool if r.get("intents")]
            test = [r for r in test if r.get("intents")]
        if not test:
            raise ValueError("test: expected labelled turns (intents) to measure the curve, got none")
        self.classes = sorted({i for r in pool + test for i in r.get("intents") or []})
        self.y_pool, self.y_test = self._targets(pool), self._targets(test)
        encoder = _load(encoder)
        self.pool_embeddings = encoder.embed(_texts(pool)).astype(np.float64)
        self.test_embeddings = encoder.embed(_texts(test)).astype(np.float64)
        self.n_pool = len(pool)
        self.head = None

    def _targets(self, records: list[dict]) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes)}
        if self.multi_label:
            y = np.zeros((len(records), len(self.classes)), dtype=np.int64)
            for row, r in enumerate(records):
                y[row, [index[i] for i in r.get("intents") or []]] = 1
            return y
        return np.array([index[r["intents"][0]] for r in records], dtype=np.int64)

    def reset(self) -> None:
        """Forget the fitted head, so the next fit starts cold (a new session must not warm-start from the
        full-data model or another run's last one: that leaks labels it has not seen into its first fits)."""
        self.head = None

    def fit(self, idx: np.ndarray, *, seed: int = 0) -> None:
        """Refit the head on pool rows ``idx`` as production's fast mode does: fit on 80%, calibrate
        on the held-out 20%, refit on all keeping the calibration (``fit_calibrated_head``)."""
        x, y = self.pool_embeddings[idx], self.y_pool[idx]
        classes = list(range(len(self.classes))) if self.multi_label else None
        warm = self.head if self.multi_label else None  # same convex optimum, fewer L-BFGS steps
        self.head = fit_calibrated_head(x, y, classes=classes, seed=seed, warm_start=warm)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        probs = self.head.predict_proba(x)
        if self.multi_label:
            return (probs >= 0.5).astype(np.int64)
        return np.asarray(self.head.classes)[probs.argmax(axis=1)]

    def evaluate(self) -> dict:
        return intent_metrics(self.y_test, self._predict(self.test_embeddings), multi_label=self.multi_label)

    def pool_arrays(self, rest: np.ndarray, *, labelled_idx: np.ndarray, committee: int = 0,
                    seed: int = 0) -> dict:
        """``select_batch`` keyword arrays for the unlabelled rows ``rest`` (a bootstrap committee
        of ``committee`` heads too, for ``bald``)."""
        x = self.pool_embeddings[rest]
        probs = self.head.predict_proba(x) if len(self.head.classes) > 1 else None
        arrays = {"probs": probs, "embeddings": x, "multi_label": self.multi_label,
                  "labeled_embeddings": self.pool_embeddings[labelled_idx]}
        if self.multi_label and len(labelled_idx):  # the count of labels a turn usually has
            arrays["labeled_cardinality"] = float(self.y_pool[labelled_idx].sum(axis=1).mean())
        if committee and probs is not None:
            arrays["committee_probs"] = self._committee_probs(labelled_idx, x, committee, seed)
        return arrays

    def _committee_probs(self, labelled_idx: np.ndarray, x: np.ndarray, size: int, seed: int) -> np.ndarray:
        """(size, n, k) probabilities from heads fit on bootstrap resamples, in the main head's columns."""
        main_head, rng = self.head, np.random.default_rng(seed)
        columns = {c: j for j, c in enumerate(main_head.classes)}
        out = np.zeros((size, len(x), len(columns)))
        try:
            for b in range(size):
                self.fit(rng.choice(labelled_idx, size=len(labelled_idx), replace=True), seed=seed + b)
                probs = self.head.predict_proba(x)
                out[b][:, [columns[c] for c in self.head.classes]] = probs
        finally:
            self.head = main_head
        return out

class ExtractorLearner:
    """Retrains the full ``Extractor`` each step (entities, sentiment, or ``full`` fine-tuning)."""

    def __init__(self, pool: list[dict], test: list[dict], *, encoder=None, mode: str = "fast"):
        self.shape = data_shape(pool)
        self.pool, self.test, self.mode = pool, test, mode
        self.encoder = _load(encoder)
        self.pool_embeddings = self.encoder.embed(_texts(pool)).astype(np.float64)
        self.n_pool = len(pool)
        self.model = None

    def reset(self) -> None:
        self.model = None

    def fit(self, idx: np.ndarray, *, seed: int = 0) -> None:
        from pipeline.extractor import Extractor

        self.model = Extractor.train([self.pool[i] for i in idx], mode=self.mode,
                                     encoder=self.encoder, seed=seed)

    def evaluate(self) -> dict:
        from pipeline.extractor import evaluate

        metrics = evaluate(self.model, self.test)
        keys = ["intent_accuracy", "intent_macro_f1"] + (["entity_f1"] if self.shape["has_spans"] else [])
        return {k: float(metrics.get(k) or 0.0) for k in keys}

    def pool_arrays(self, rest: np.ndarray, *, labelled_idx: np.ndarray, committee: int = 0,
                    seed: int = 0) -> dict:
        if committee:
            raise ValueError("strategy 'bald': expected the fast intent-only learner (a bootstrap committee "
                             "of extractors is not simulated); use another strategy for data with spans")
        arrays = self.model.predict_arrays([self.pool[i] for i in rest])
        # diversity works in the frozen encoder's space, where the labelled rows live too
        return {"probs": arrays.intent_probs, "embeddings": self.pool_embeddings[rest],
                "token_probs": arrays.token_probs, "sentiment_probs": arrays.sentiment_probs,
                "multi_label": bool(self.model.schema.get("multi_label")),
                "labeled_embeddings": self.pool_embeddings[labelled_idx],
                "labeled_cardinality": float(np.mean([len(self.pool[i].get("intents") or [])
                                                      for i in labelled_idx])) if len(labelled_idx) else None}
