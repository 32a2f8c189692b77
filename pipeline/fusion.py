"""What the response says about the intent, and how to fuse it with what the user text says.

An assistant's reply often reveals the intent better than the user's words do ("What city do you
want to dine in?" is a restaurant search even when the user only said "yes, please"). This module
holds the response-side intent classifier p(intent | response embedding) and the product of
experts that fuses it with the extractor's p(intent | text):

    p(y | text, response)  ∝  p(y | text) · (p(y | response) / p(y))^w

which is Bayes' rule under conditional independence when w = 1; w is learned on held-out turns
by log-likelihood and w = 0 (ignore the response) is allowed. Multi-label intents fuse per label
in logit space. Everything here is arrays in, arrays out; the classifier stores plain arrays so a
model bundle can save it as .npz (no pickle).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROB_FLOOR = 1e-4   # responses never rule an intent out completely: keeps log-probabilities finite


def _check_2d(name: str, array: np.ndarray, *, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {array.shape}")
    if rows is not None and array.shape[0] != rows:
        raise ValueError(f"{name}: expected {rows} rows, got {array.shape[0]}")
    if cols is not None and array.shape[1] != cols:
        raise ValueError(f"{name}: expected {cols} columns, got {array.shape[1]}")
    return array


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, PROB_FLOOR, 1.0 - PROB_FLOOR)
    return np.log(p) - np.log1p(-p)


@dataclass
class ResponseIntentClassifier:
    """p(intent | response): a linear classifier on the response embedding over a fixed class list.

    Single-label: multinomial logistic regression (softmax over ``classes``). Multi-label: one
    logistic regression per class. Classes with no training response get probability ~0 (single)
    or their smoothed prior (multi). ``prior`` is the smoothed class frequency in training.
    """

    classes: list[str]
    multi_label: bool
    coef: np.ndarray        # (k, d)
    intercept: np.ndarray   # (k,)
    prior: np.ndarray       # (k,)

    @classmethod
    def fit(cls, response: np.ndarray, targets: np.ndarray, *, classes: list[str],
            multi_label: bool = False, C: float = 10.0, seed: int = 0) -> "ResponseIntentClassifier":
        """Fit on rows whose ``targets`` row (one-/multi-hot over ``classes``) is not all zero."""
        from sklearn.linear_model import LogisticRegression

        response = _check_2d("response", response)
        targets = _check_2d("targets", targets, rows=len(response), cols=len(classes))
        labelled = targets.sum(axis=1) > 0
        if not labelled.any():
            raise ValueError("targets: expected at least one labelled row, got none")
        X, T = response[labelled], targets[labelled] > 0
        k, d = len(classes), response.shape[1]
        prior = (T.sum(axis=0) + 1.0) / (len(T) + k)
        coef, intercept = np.zeros((k, d), np.float32), np.log(prior).astype(np.float32)
        if multi_label:
            for j in range(k):
                if 0 < T[:, j].sum() < len(T):
                    lr = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(X, T[:, j])
                    coef[j], intercept[j] = lr.coef_[0], lr.intercept_[0]
                else:
                    intercept[j] = _logit(prior[j:j + 1])[0]
        else:
            y = T.argmax(axis=1)
            present = np.unique(y)
            intercept[:] = np.log(PROB_FLOOR)
            if len(present) == 1:
                intercept[present[0]] = 0.0
            else:
                lr = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(X, y)
                rows = lr.classes_
                if len(rows) == 2:  # sklearn keeps a single coefficient row for two classes
                    coef[rows[1]], intercept[rows[1]] = lr.coef_[0], lr.intercept_[0]
                    intercept[rows[0]] = 0.0
                else:
                    coef[rows], intercept[rows] = lr.coef_, lr.intercept_
        return cls(list(classes), bool(multi_label), coef, intercept, prior.astype(np.float32))

    def predict_proba(self, response: np.ndarray) -> np.ndarray:
        """(n, k) probabilities, floored at PROB_FLOOR (single-label rows still sum to 1)."""
        response = _check_2d("response", response, cols=self.coef.shape[1])
        logits = response.astype(np.float32) @ self.coef.T + self.intercept
        if self.multi_label:
            return np.clip(_sigmoid(logits), PROB_FLOOR, 1.0 - PROB_FLOOR)
        probs = _softmax(logits)
        probs = np.maximum(probs, PROB_FLOOR)
        return probs / probs.sum(axis=1, keepdims=True)

    def to_arrays(self, prefix: str = "response_clf_") -> dict[str, np.ndarray]:
        return {
            f"{prefix}classes": np.array(self.classes, dtype=str),
            f"{prefix}multi_label": np.array(self.multi_label),
            f"{prefix}coef": self.coef, f"{prefix}intercept": self.intercept, f"{prefix}prior": self.prior,
        }

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "response_clf_") -> "ResponseIntentClassifier":
        return cls([str(c) for c in arrays[f"{prefix}classes"]], bool(arrays[f"{prefix}multi_label"]),
                   np.asarray(arrays[f"{prefix}coef"]), np.asarray(arrays[f"{prefix}intercept"]),
                   np.asarray(arrays[f"{prefix}prior"]))


def fuse(p_text: np.ndarray, p_response: np.ndarray, *, weight: float, prior: np.ndarray | None = None,
         multi_label: bool = False, gate: np.ndarray | None = None) -> np.ndarray:
    """Product of experts: p_text · (p_response / prior)^weight, renormalised (per label if multi-label).

    Rows of ``p_response`` that are NaN (turns without a response) keep ``p_text`` unchanged.
    ``gate`` (n,), e.g. p(response aligned), mixes: gate · fused + (1 − gate) · p_text, so a reply
    that does not answer the turn cannot drag the suggestion towards its own intent.
    """
    p_text = _check_2d("p_text", p_text)
    p_response = _check_2d("p_response", p_response, rows=len(p_text), cols=p_text.shape[1])
    if weight < 0:
        raise ValueError(f"weight: expected >= 0, got {weight}")
    k = p_text.shape[1]
    prior = np.full(k, 1.0 / k) if prior is None else np.asarray(prior, dtype=np.float64)
    if prior.shape != (k,):
        raise ValueError(f"prior: expected shape ({k},), got {prior.shape}")
    has_response = ~np.isnan(p_response).any(axis=1)
    fused = np.array(p_text, dtype=np.float64, copy=True)
    if weight == 0 or not has_response.any():
        return fused
    pt, pr = p_text[has_response].astype(np.float64), p_response[has_response].astype(np.float64)
    if multi_label:
        fused[has_response] = _sigmoid(_logit(pt) + weight * (_logit(pr) - _logit(prior)))
    else:
        log_p = np.log(np.maximum(pt, 1e-12)) + weight * (np.log(np.maximum(pr, PROB_FLOOR)) - np.log(prior))
        fused[has_response] = _softmax(log_p)
    if gate is not None:
        gate = np.clip(np.asarray(gate, dtype=np.float64).reshape(-1), 0.0, 1.0)
        if gate.shape != (len(p_text),):
            raise ValueError(f"gate: expected shape ({len(p_text)},), got {gate.shape}")
        fused = gate[:, None] * fused + (1.0 - gate[:, None]) * p_text
    return fused


def mean_log_likelihood(probs: np.ndarray, targets: np.ndarray, *, multi_label: bool = False) -> float:
    """Average log-likelihood of one-/multi-hot ``targets`` under ``probs`` (rows without labels skipped)."""
    probs = _check_2d("probs", probs)
    targets = _check_2d("targets", targets, rows=len(probs), cols=probs.shape[1]) > 0
    rows = targets.any(axis=1)
    p, t = np.clip(probs[rows], 1e-12, 1 - 1e-12), targets[rows]
    if not rows.any():
        raise ValueError("targets: expected at least one labelled row, got none")
    if multi_label:
        return float(np.mean(np.sum(np.where(t, np.log(p), np.log1p(-p)), axis=1)))
    return float(np.mean(np.log(p[np.arange(len(p)), t.argmax(axis=1)])))


def fit_fusion_weight(p_text: np.ndarray, p_response: np.ndarray, targets: np.ndarray, *,
                      prior: np.ndarray | None = None, multi_label: bool = False,
                      max_weight: float = 3.0, gate: np.ndarray | None = None) -> float:
    """The response weight w in [0, max_weight] that maximises held-out log-likelihood (0 allowed).

    Bounded Brent search, with both ends checked explicitly so w = 0 wins whenever the response
    only adds noise.
    """
    from scipy.optimize import minimize_scalar

    def loss(w: float) -> float:
        fused = fuse(p_text, p_response, weight=float(w), prior=prior, multi_label=multi_label, gate=gate)
        return -mean_log_likelihood(fused, targets, multi_label=multi_label)

    found = minimize_scalar(loss, bounds=(0.0, max_weight), method="bounded", options={"xatol": 1e-3})
    candidates = [0.0, float(found.x), float(max_weight)]
    return min(candidates, key=loss)
