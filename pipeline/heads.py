"""Light classification heads stored as plain arrays, fitted by scikit-learn, calibrated by temperature.

Why arrays: a head is just ``softmax(X W^T + b) / T`` (or a sigmoid per label), so saving W, b and
T in an ``.npz`` keeps artifacts small, version-independent and free of pickles, and the same
class serves the fast mode (fitted by ``LogisticRegression``) and the full mode (the fine-tuned
torch linear layers, copied out). Temperature scaling (Guo et al. 2017) is fitted on held-out
logits because active learning and label-error ranking read these probabilities as probabilities.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("softmax", "sigmoid")


@dataclass
class LinearHead:
    """A linear classifier over feature rows; ``kind`` says whether classes are exclusive."""

    classes: list[str]
    weight: np.ndarray                  # (k, d)
    bias: np.ndarray                    # (k,)
    kind: str = "softmax"
    temperature: float = 1.0
    prior_shift: np.ndarray = field(default=None)  # (k,) added to logits, e.g. to undo class subsampling
    decision_offset: np.ndarray = field(default=None)  # (k,) log-offsets of the decision rule only (``decide``)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"head kind must be one of {KINDS}, got {self.kind!r}")
        self.weight = np.asarray(self.weight, dtype=np.float32)
        self.bias = np.asarray(self.bias, dtype=np.float32)
        if self.weight.shape[0] != len(self.classes) or self.bias.shape != (len(self.classes),):
            raise ValueError(f"head: expected weight ({len(self.classes)}, d) and bias ({len(self.classes)},), "
                             f"got {self.weight.shape} and {self.bias.shape}")
        if self.prior_shift is None:
            self.prior_shift = np.zeros(len(self.classes), np.float32)
        if self.decision_offset is None:
            self.decision_offset = np.zeros(len(self.classes), np.float32)
        self.decision_offset = np.asarray(self.decision_offset, dtype=np.float32)
        if self.decision_offset.shape != (len(self.classes),):
            raise ValueError(f"head: expected decision_offset ({len(self.classes)},), got {self.decision_offset.shape}")

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated scores (n, k), prior shift included."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.weight.shape[1]:
            raise ValueError(f"head: expected features (n, {self.weight.shape[1]}), got {X.shape}")
        return X @ self.weight.T + self.bias + self.prior_shift

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (n, k): rows sum to 1 for softmax, independent per label for sigmoid."""
        return scores_to_proba(self.logits(X) / self.temperature, self.kind)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Class index per row (softmax heads): ``argmax(log p + decision_offset)``.

        Why apart from the probabilities: the offsets are fitted to maximise macro-F1 (a rare class
        needs a lower bar to be predicted), while the probabilities stay calibrated for the active
        learning and label-error code that reads them as probabilities.
        """
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 2 or probs.shape[1] != len(self.classes):
            raise ValueError(f"head: expected probabilities (n, {len(self.classes)}), got {probs.shape}")
        return (np.log(np.clip(probs, 1e-30, None)) + self.decision_offset).argmax(axis=1)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.weight": self.weight, f"{prefix}.bias": self.bias,
                f"{prefix}.prior_shift": self.prior_shift, f"{prefix}.decision_offset": self.decision_offset,
                f"{prefix}.temperature": np.array(self.temperature, np.float64),
                f"{prefix}.classes": np.array(self.classes, dtype=object).astype(str),
                f"{prefix}.kind": np.array(self.kind)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> "LinearHead":
        """Artifacts saved before decision offsets existed load with zero offsets (plain argmax)."""
        offset_key = f"{prefix}.decision_offset"
        return cls(classes=[str(c) for c in arrays[f"{prefix}.classes"]], weight=arrays[f"{prefix}.weight"],
                   bias=arrays[f"{prefix}.bias"], kind=str(arrays[f"{prefix}.kind"]),
                   temperature=float(arrays[f"{prefix}.temperature"]), prior_shift=arrays[f"{prefix}.prior_shift"],
                   decision_offset=arrays[offset_key] if offset_key in arrays else None)


def scores_to_proba(scores: np.ndarray, kind: str) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if kind == "sigmoid":
        return (1.0 / (1.0 + np.exp(-np.clip(scores, -60, 60)))).astype(np.float32)
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def fit_softmax_head(X: np.ndarray, y: list[str], *, C: float = 10.0, sample_weight=None,
                     max_iter: int = 300, warm_start: LinearHead | None = None) -> LinearHead:
    """Multinomial logistic regression; a single class gives a constant head (p = 1)."""
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(y))
    if len(classes) == 1:
        return LinearHead(classes, np.zeros((1, X.shape[1]), np.float32), np.zeros(1, np.float32))
    model = LogisticRegression(C=C, max_iter=max_iter, tol=1e-3, warm_start=warm_start is not None)
    if warm_start is not None and warm_start.classes == classes:
        if len(classes) == 2:  # sklearn keeps one row for binary problems
            model.coef_ = (warm_start.weight[1:] - warm_start.weight[:1]).astype(np.float64)
            model.intercept_ = (warm_start.bias[1:] - warm_start.bias[:1]).astype(np.float64)
        else:
            model.coef_, model.intercept_ = warm_start.weight.astype(np.float64), warm_start.bias.astype(np.float64)
    model.fit(X, y, sample_weight=sample_weight)
    weight, bias = model.coef_, model.intercept_
    if len(classes) == 2:  # sklearn returns one row for binary problems: expand to two logits
        weight, bias = np.vstack([np.zeros_like(weight), weight]), np.concatenate([[0.0], bias])
    return LinearHead(classes, weight, bias)


def fit_sigmoid_head(X: np.ndarray, Y: np.ndarray, classes: list[str], *, C: float = 10.0,
                     max_iter: int = 500, warm_start: LinearHead | None = None) -> LinearHead:
    """One-vs-rest L2 logistic regressions for all labels at once (multi-label intents).

    The objective is sklearn's per label, ``C * sum(log-loss) + ||w||^2 / 2`` (bias unpenalised);
    the labels are independent, so their sum is minimised in one vectorised L-BFGS run instead of
    k separate fits (71 NLU++ labels: one solve, not 71).
    """
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=np.float32)
    Y = np.asarray(Y, dtype=np.float32)
    n, d = X.shape
    k = len(classes)
    if Y.shape != (n, k):
        raise ValueError(f"fit_sigmoid_head: expected Y ({n}, {k}), got {Y.shape}")

    def objective(theta: np.ndarray):
        W, b = theta[:k * d].reshape(k, d).astype(np.float32), theta[k * d:].astype(np.float32)
        Z = X @ W.T + b
        loss = np.logaddexp(0, Z) - Y * Z
        G = (1.0 / (1.0 + np.exp(-np.clip(Z, -60, 60))) - Y) * C
        grad_w = G.T @ X + W
        value = C * float(loss.sum(dtype=np.float64)) + 0.5 * float((W.astype(np.float64) ** 2).sum())
        return value, np.concatenate([grad_w.ravel(), G.sum(0)]).astype(np.float64)

    if warm_start is not None and warm_start.classes == list(classes):
        theta0 = np.concatenate([warm_start.weight.ravel(), warm_start.bias]).astype(np.float64)
    else:
        prior = np.clip((Y.sum(0) + 0.5) / (n + 1.0), 1e-4, 1 - 1e-4)
        theta0 = np.concatenate([np.zeros(k * d), np.log(prior / (1 - prior))])
    result = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "gtol": 1e-4 * C})
    theta = result.x
    return LinearHead(list(classes), theta[:k * d].reshape(k, d), theta[k * d:], kind="sigmoid")


def fit_temperature(logits: np.ndarray, targets: np.ndarray, *, kind: str = "softmax") -> float:
    """The T > 0 minimising held-out negative log-likelihood of ``logits / T``.

    ``targets`` are integer classes (softmax) or a 0/1 matrix shaped like ``logits`` (sigmoid).
    Returns 1.0 when there is nothing to fit on.
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets)
    if len(logits) < 2:
        return 1.0

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        if kind == "sigmoid":
            return float(np.mean(np.logaddexp(0, z) - targets * z))
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[np.arange(len(z)), targets]))

    result = minimize_scalar(nll, bounds=(np.log(0.01), np.log(100.0)), method="bounded")
    return float(np.exp(result.x))


MIN_DECISION_ROWS = 50       # fewer held-out rows than this: keep plain argmax (offsets would fit noise)
DECISION_GRID = np.round(np.arange(-2.0, 2.0001, 0.1), 2)


def macro_f1_from_indices(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Macro-F1 over classes present in gold or predictions, from integer labels (fast, for search loops)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    tp = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
    n_true, n_pred = np.bincount(y_true, minlength=n_classes), np.bincount(y_pred, minlength=n_classes)
    seen = (n_true + n_pred) > 0
    f1 = 2 * tp[seen] / (n_true[seen] + n_pred[seen])
    return float(f1.mean()) if seen.any() else 0.0


def fit_decision_offsets(probs: np.ndarray, targets: np.ndarray, *, grid: np.ndarray = DECISION_GRID,
                         rounds: int = 3, min_rows: int = MIN_DECISION_ROWS, cross_check: bool = True) -> np.ndarray:
    """Per-class log-offsets ``b`` maximising held-out macro-F1 of ``argmax(log p + b)``.

    Why: a calibrated argmax maximises accuracy, not macro-F1; a rare class (GoEmotions' "ambiguous")
    is then under-predicted. Shifting the decision, not the probabilities, is post-hoc logit adjustment
    (Menon et al. 2021) with the shifts fitted by coordinate ascent over ``grid`` (a few rounds; a
    move must strictly improve, so ties keep the smaller offset). ``cross_check``: offsets fitted on
    each half of the rows must beat plain argmax on the other half (summed over both halves), else
    zeros are returned -- on a small validation split a near-optimal argmax otherwise trades
    for offsets that only fit noise. Zeros too with fewer than ``min_rows`` rows or fewer than two
    classes in ``targets``. ``probs`` (n, k) rows, ``targets`` (n,) integer classes. The result is
    centred (argmax ignores a common shift).
    """
    probs, targets = np.asarray(probs, dtype=np.float64), np.asarray(targets)
    if probs.ndim != 2 or targets.shape != (len(probs),):
        raise ValueError(f"fit_decision_offsets: expected probs (n, k) and targets (n,), got {probs.shape} and {targets.shape}")
    k = probs.shape[1]
    if len(probs) < min_rows or len(np.unique(targets)) < 2:
        return np.zeros(k, np.float32)
    log_p = np.log(np.clip(probs, 1e-30, None))
    grid = sorted(np.asarray(grid, dtype=np.float64), key=abs)
    if cross_check and _cross_fitted_gain(log_p, targets, grid, rounds) <= 0:
        return np.zeros(k, np.float32)
    offsets = _coordinate_ascent(log_p, targets, grid, rounds)
    return (offsets - offsets.mean()).astype(np.float32)


def _coordinate_ascent(log_p: np.ndarray, targets: np.ndarray, grid, rounds: int) -> np.ndarray:
    k = log_p.shape[1]
    offsets = np.zeros(k)
    best = macro_f1_from_indices(targets, log_p.argmax(1), k)
    for _ in range(rounds):
        improved = False
        for j in range(k):
            for value in grid:
                trial = offsets.copy()
                trial[j] = value
                score = macro_f1_from_indices(targets, (log_p + trial).argmax(1), k)
                if score > best + 1e-12:
                    best, offsets, improved = score, trial, True
        if not improved:
            break
    return offsets


def _cross_fitted_gain(log_p: np.ndarray, targets: np.ndarray, grid, rounds: int) -> float:
    """Macro-F1 gain over argmax of offsets fitted on one seeded half and scored on the other, summed."""
    k = log_p.shape[1]
    order = np.random.default_rng(0).permutation(len(targets))
    halves = (order[: len(order) // 2], order[len(order) // 2:])
    gain = 0.0
    for fit_rows, score_rows in (halves, halves[::-1]):
        offsets = _coordinate_ascent(log_p[fit_rows], targets[fit_rows], grid, rounds)
        gain += (macro_f1_from_indices(targets[score_rows], (log_p[score_rows] + offsets).argmax(1), k)
                 - macro_f1_from_indices(targets[score_rows], log_p[score_rows].argmax(1), k))
    return gain
