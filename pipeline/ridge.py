"""Reduced-rank ridge regression, closed form: the "A = U·V with A·I ≈ Y" of the alignment model.

Pure functions over arrays. ``fit_reduced_rank_ridge`` fits every rank at once (truncate for lower
ones), ``rank_curve`` scores all ranks on validation data in one pass, and ``choose_rank`` picks the
smallest rank within a tolerance of the best: the "common divisor" of intent and response.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


def _as_matrix(name: str, array, *, rows: int | None = None) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {array.shape}")
    if rows is not None and len(array) != rows:
        raise ValueError(f"{name}: expected {rows} rows, got {len(array)}")
    return array


@dataclass(frozen=True)
class RidgeFit:
    """A = U·V (rank r) with intercepts: predict(I) = (I − input_mean)·U·V + output_mean."""

    U: np.ndarray                 # (d_in, r) = B·V.T, B the full-rank ridge solution
    V: np.ndarray                 # (r, d_out) top-r right singular vectors of the fitted values
    singular_values: np.ndarray   # (r,) of the fitted values, largest first
    input_mean: np.ndarray
    output_mean: np.ndarray
    alpha: float

    @property
    def rank(self) -> int:
        return int(self.V.shape[0])

    def truncate(self, rank: int) -> "RidgeFit":
        if not 1 <= rank <= self.rank:
            raise ValueError(f"rank: expected 1..{self.rank}, got {rank}")
        return replace(self, U=self.U[:, :rank], V=self.V[:rank], singular_values=self.singular_values[:rank])

    def predict(self, I: np.ndarray) -> np.ndarray:
        I = _as_matrix("I", I)
        if I.shape[1] != self.U.shape[0]:
            raise ValueError(f"I: expected {self.U.shape[0]} columns, got {I.shape[1]}")
        return (I - self.input_mean) @ self.U @ self.V + self.output_mean


def fit_reduced_rank_ridge(I, Y, *, alpha: float, max_rank: int | None = None) -> RidgeFit:
    """Closed-form reduced-rank ridge regression of Y on I (both centred).

    B = (IᵀI + αI)⁻¹IᵀY via the SVD of I; the fitted values I·B are projected onto their top
    right singular vectors V (r × d_out), so A_r = B·V_rᵀ·V_r. Truncating the result gives every
    lower rank for free (``RidgeFit.truncate``).
    """
    I, Y = _as_matrix("I", I), _as_matrix("Y", Y, rows=len(np.asarray(I)))
    if alpha <= 0:
        raise ValueError(f"alpha: expected > 0, got {alpha}")
    input_mean, output_mean = I.mean(axis=0), Y.mean(axis=0)
    Ic, Yc = I - input_mean, Y - output_mean
    left, s, right_t = np.linalg.svd(Ic, full_matrices=False)
    B = right_t.T @ ((s / (s ** 2 + alpha))[:, None] * (left.T @ Yc))
    _, fitted_s, fitted_vt = np.linalg.svd(Ic @ B, full_matrices=False)
    limit = min(len(fitted_s), max_rank or len(fitted_s))
    V = fitted_vt[:limit]
    return RidgeFit(B @ V.T, V, fitted_s[:limit], input_mean, output_mean, float(alpha))


def rank_curve(fit: RidgeFit, I_valid, Y_valid) -> np.ndarray:
    """Validation R² of ``fit`` truncated to each rank 1..fit.rank (one pass, no refits).

    With orthonormal V, SSE(r) = ‖Yc‖² − Σ_{j≤r} (2·⟨Yc·v_j, Z_j⟩ − ‖Z_j‖²), Z = Ic·U.
    """
    I_valid, Y_valid = _as_matrix("I_valid", I_valid), _as_matrix("Y_valid", Y_valid, rows=len(I_valid))
    Yc = Y_valid - fit.output_mean
    Z = (I_valid - fit.input_mean) @ fit.U
    W = Yc @ fit.V.T
    gain = np.cumsum(2 * np.sum(W * Z, axis=0) - np.sum(Z * Z, axis=0))
    total = np.sum((Y_valid - Y_valid.mean(axis=0)) ** 2)
    return 1.0 - (np.sum(Yc * Yc) - gain) / max(total, 1e-12)


def choose_alpha(I_train, Y_train, I_valid, Y_valid, *, alphas=(0.1, 1.0, 10.0, 100.0)) -> tuple[float, dict]:
    """The ridge penalty with the best full-rank validation R²; returns (alpha, {alpha: R²}).

    At full rank the reduced-rank fit predicts exactly what plain ridge does, so one SVD of the centred
    inputs serves every alpha (the worker runs this on every fast retrain)."""
    I_train, Y_train = _as_matrix("I_train", I_train), _as_matrix("Y_train", Y_train, rows=len(np.asarray(I_train)))
    I_valid, Y_valid = _as_matrix("I_valid", I_valid), _as_matrix("Y_valid", Y_valid, rows=len(np.asarray(I_valid)))
    input_mean, output_mean = I_train.mean(axis=0), Y_train.mean(axis=0)
    left, s, right_t = np.linalg.svd(I_train - input_mean, full_matrices=False)
    projected = left.T @ (Y_train - output_mean)
    Iv = (I_valid - input_mean) @ right_t.T
    total = max(float(np.sum((Y_valid - Y_valid.mean(axis=0)) ** 2)), 1e-12)
    scores = {}
    for alpha in alphas:
        if alpha <= 0:
            raise ValueError(f"alpha: expected > 0, got {alpha}")
        predicted = Iv @ ((s / (s ** 2 + alpha))[:, None] * projected) + output_mean
        scores[float(alpha)] = float(1.0 - np.sum((Y_valid - predicted) ** 2) / total)
    return max(scores, key=scores.get), scores


@dataclass(frozen=True)
class RankChoice:
    rank: int             # the "common divisor": smallest rank within tolerance of the best
    best_rank: int
    curve: np.ndarray     # validation R² per rank 1..max
    fit: RidgeFit         # fitted on the training pairs, truncated to ``rank``


def choose_rank(I_train, Y_train, I_valid, Y_valid, *, alpha: float = 10.0, tolerance: float = 0.01,
                max_rank: int | None = None) -> RankChoice:
    """The smallest rank whose validation R² is within ``tolerance`` (absolute) of the best rank's."""
    if tolerance < 0:
        raise ValueError(f"tolerance: expected >= 0, got {tolerance}")
    fit = fit_reduced_rank_ridge(I_train, Y_train, alpha=alpha, max_rank=max_rank)
    curve = rank_curve(fit, I_valid, Y_valid)
    best = int(np.argmax(curve))
    rank = int(np.flatnonzero(curve >= curve[best] - tolerance)[0]) + 1
    return RankChoice(rank, best + 1, curve, fit.truncate(rank))
