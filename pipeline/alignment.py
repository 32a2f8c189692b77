"""Does the assistant's response fit the user's intent? Reduced-rank ridge plus discriminative checks.

The seed's idea: represent the turn's intent as a vector I and the response as a vector Y, learn a
low-rank map A = U·V with A·I ≈ Y on pairs judged aligned, and score a response by cos(A·I, Y).
The rank r at which validation fit stops improving is the "common divisor" of intent and response:
how many independent directions of intent the responses actually express.

A plain cosine misses about 30% of swapped responses, because generic replies ("Anything else?")
sit close to every prediction. So the score combines (all pure functions over arrays):
- ``cosine``: cos(A·I, Y) at the chosen rank;
- ``cosine_csls``: the same cosine corrected for hubness (cross-domain similarity local scaling:
  2·cos − mean top-k cos of Y to other predictions − mean top-k cos of A·I to other responses);
- ``intent_agreement``: log Σ_k p_turn(k)·p(k | response): does the response read as the turn's intent;
- ``pair_logit``: a small network over [u, y, u⊙y, c, c⊙y] (utterance u, last assistant context turn c)
  trained listwise: each real pair against the other responses of its batch (``pipeline.pair_scorer``).
A logistic regression over these, fitted on held-out real pairs, swapped pairs and any turns judged
misaligned, gives the calibrated misalignment probability (``AlignmentModel``).
"""
from __future__ import annotations

from copy import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from pipeline.ridge import (  # noqa: F401 (re-exported: the ridge is part of the alignment model's API)
    RankChoice, RidgeFit, _as_matrix, choose_alpha, choose_rank, fit_reduced_rank_ridge, rank_curve,
)

if TYPE_CHECKING:
    from pipeline.fusion import ResponseIntentClassifier

FEATURES = ("cosine", "cosine_csls", "intent_agreement", "pair_logit")


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cosine_rows(a, b) -> np.ndarray:
    """Row-wise cosine similarity of two (n, d) arrays."""
    a, b = _as_matrix("a", a), _as_matrix("b", b, rows=len(np.asarray(a)))
    return np.sum(_unit_rows(a) * _unit_rows(b), axis=1)


def csls_scores(predicted, responses, *, reference_predicted, reference_responses, k: int = 10) -> np.ndarray:
    """Hubness-corrected cosine: 2·cos(p, y) − r(y) − r(p), r = mean of the top-k cosines to the references.

    A generic response is close to many predictions, so its r(y) is high and its score drops.
    """
    p, y = _unit_rows(_as_matrix("predicted", predicted)), _unit_rows(_as_matrix("responses", responses))
    ref_p, ref_y = _unit_rows(_as_matrix("reference_predicted", reference_predicted)), _unit_rows(
        _as_matrix("reference_responses", reference_responses))
    k = max(1, min(k, len(ref_p), len(ref_y)))
    r_y = _mean_top_k(y @ ref_p.T, k)
    r_p = _mean_top_k(p @ ref_y.T, k)
    return 2 * np.sum(p * y, axis=1) - r_y - r_p


def _mean_top_k(similarity: np.ndarray, k: int) -> np.ndarray:
    return np.mean(np.partition(similarity, similarity.shape[1] - k, axis=1)[:, -k:], axis=1)


def intent_agreement(p_turn, p_response) -> np.ndarray:
    """log of the p_turn-weighted mean of p(intent | response): does the reply read as the turn's intent?"""
    p_turn, p_response = _as_matrix("p_turn", p_turn), _as_matrix("p_response", p_response, rows=len(np.asarray(p_turn)))
    mass = np.maximum(p_turn.sum(axis=1), 1e-12)
    return np.log(np.maximum(np.sum(p_turn * p_response, axis=1) / mass, 1e-6))


def pair_features(utterance, context, response) -> np.ndarray:
    """[u, y, u⊙y, c, c⊙y] as float32: the input of the pair classifier (all in one embedding space)."""
    u = _as_matrix("utterance", utterance)
    y, c = _as_matrix("response", response, rows=len(u)), _as_matrix("context", context, rows=len(u))
    if not u.shape[1] == y.shape[1] == c.shape[1]:
        raise ValueError(f"utterance/context/response: expected one embedding width, got {u.shape[1]}/{c.shape[1]}/{y.shape[1]}")
    return np.hstack([u, y, u * y, c, c * y]).astype(np.float32)


def swap_partners(groups, rows, *, repeats: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic negatives: (turn row, response row) pairs whose rows come from different groups.

    Each repeat is a random permutation of ``rows``; pairs that land in the same group
    (conversation) are re-shuffled a few times and dropped if they still collide.
    """
    groups, rows = np.asarray(groups), np.asarray(rows, dtype=np.int64)
    rng = np.random.default_rng(seed)
    turns, sources = [], []
    for _ in range(repeats):
        partner = rng.permutation(rows)
        for _attempt in range(8):
            clash = np.flatnonzero(groups[partner] == groups[rows])
            if len(clash) == 0:
                break
            swap_with = rng.integers(0, len(rows), size=len(clash))
            partner[clash], partner[swap_with] = partner[swap_with], partner[clash]
        ok = groups[partner] != groups[rows]
        turns.append(rows[ok])
        sources.append(partner[ok])
    return np.concatenate(turns), np.concatenate(sources)


def precision_at_k(scores, is_positive, *, k: int | None = None) -> float:
    """Fraction of true positives among the k highest ``scores`` (k = number of positives by default)."""
    scores, is_positive = np.asarray(scores, dtype=float), np.asarray(is_positive, dtype=bool)
    k = int(is_positive.sum()) if k is None else int(k)
    if k <= 0:
        raise ValueError(f"k: expected >= 1, got {k}")
    top = np.argsort(-scores, kind="stable")[:k]
    return float(is_positive[top].mean())


REPRESENTATIONS = ("embedding", "labels", "both")
MIN_HOLDOUT_PAIRS = 20     # fewer held-out aligned pairs than this: calibrate in-sample (tiny data)
REFERENCE_ROWS = 2000      # rows kept for the hubness correction (bounded bundle size and cost)


@dataclass(frozen=True)
class PairArrays:
    """Per-turn arrays the alignment model reads: n rows, one embedding space of width d."""

    utterance: np.ndarray            # (n, d) the user turn
    context: np.ndarray              # (n, d) the last assistant turn before it; zeros when none
    response: np.ndarray             # (n, d) the assistant's reply
    intent_probs: np.ndarray         # (n, k) the turn's intent distribution over the model's classes
    label_features: np.ndarray | None = None   # (n, f) intent + entity-type + sentiment probabilities

    def subset(self, rows) -> "PairArrays":
        pick = (lambda a: None if a is None else np.asarray(a)[rows])
        return PairArrays(pick(self.utterance), pick(self.context), pick(self.response),
                          pick(self.intent_probs), pick(self.label_features))

    def with_responses(self, response) -> "PairArrays":
        return replace(self, response=np.asarray(response))

    def intent_vectors(self, representation: str) -> np.ndarray:
        """I for the ridge map: "embedding" [u, c], "labels" (extractor outputs) or "both"."""
        if representation not in REPRESENTATIONS:
            raise ValueError(f"representation: expected one of {REPRESENTATIONS}, got {representation!r}")
        if representation != "embedding" and self.label_features is None:
            raise ValueError(f"representation {representation!r} needs label_features, got None")
        parts = {"embedding": [self.utterance, self.context], "labels": [self.label_features],
                 "both": [self.utterance, self.context, self.label_features]}[representation]
        return np.hstack([np.asarray(p, dtype=np.float64) for p in parts])


@dataclass(frozen=True)
class AlignmentScores:
    alignment_score: np.ndarray      # p(aligned) at even odds: higher = better fit, in [0, 1]
    misalignment_prob: np.ndarray    # p(misaligned) at the model's prior (even odds unless set)
    features: np.ndarray             # (n, len(FEATURES)) the components, for analysts and benches


@dataclass
class AlignmentModel:
    """Reduced-rank ridge + response intent classifier + pair MLP, combined by logistic regression."""

    representation: str
    ridge: RidgeFit
    reference_predicted: np.ndarray
    reference_responses: np.ndarray
    response_classifier: "ResponseIntentClassifier | None"
    mlp_layers: list[tuple[np.ndarray, np.ndarray]]   # [(W, b), ...]; empty = no pair classifier
    combiner: np.ndarray          # [intercept, w_1..w_f] over standardised features
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    prior_misaligned: float = 0.5
    report: dict | None = None
    intent_classes: list[str] | None = None      # column order of PairArrays.intent_probs

    @classmethod
    def fit(cls, arrays: PairArrays, *, intent_targets, classes: list[str], groups, misaligned=None,
            holdout=None, multi_label: bool = False, representation: str = "embedding",
            tolerance: float = 0.01, epochs: int = 20, hidden: int = 256, seed: int = 0,
            prior_misaligned: float | None = None, threads: int = 1, refit_all: bool = True) -> "AlignmentModel":
        """Fit on turns with responses. ``misaligned`` marks turns judged misaligned (the rest count as
        aligned pairs); ``holdout`` marks rows kept out of the components to fit the combiner and to
        choose alpha and rank (default: 25% of groups). ``threads`` caps BLAS threads: on a shared
        2-core machine two threads measured 6x slower than one for the old sklearn MLP. The torch pair scorer
        uses the process's torch threads (``pipeline.encoders.configure_threads``), read before the cap. ``refit_all``: refit the
        cheap parts (ridge, response classifier) on every aligned pair at the end, held-out ones included;
        off when the held-out rows must stay unseen (``refit_on`` can do it later on a copy)."""
        from threadpoolctl import threadpool_limits

        scorer_threads = _process_torch_threads()      # read before the BLAS cap below also caps torch
        with threadpool_limits(limits=threads):
            return cls._fit(arrays, intent_targets=intent_targets, classes=classes, groups=groups,
                            scorer_threads=scorer_threads, misaligned=misaligned, holdout=holdout, multi_label=multi_label,
                            representation=representation, tolerance=tolerance, epochs=epochs,
                            hidden=hidden, seed=seed, prior_misaligned=prior_misaligned, refit_all=refit_all)

    @classmethod
    def _fit(cls, arrays, *, intent_targets, classes, groups, misaligned, holdout, multi_label,
             representation, tolerance, epochs, hidden, seed, prior_misaligned, refit_all,
             scorer_threads) -> "AlignmentModel":
        from pipeline.fusion import ResponseIntentClassifier

        n = len(arrays.response)
        groups = np.asarray(groups)
        misaligned = np.zeros(n, bool) if misaligned is None else np.asarray(misaligned, bool)
        holdout = _holdout_groups(groups, seed=seed) if holdout is None else np.asarray(holdout, bool)
        for name, a in (("groups", groups), ("misaligned", misaligned), ("holdout", holdout)):
            if len(a) != n:
                raise ValueError(f"{name}: expected {n} rows, got {len(a)}")
        aligned = ~misaligned
        fit_rows, valid_rows = aligned & ~holdout, aligned & holdout
        in_sample = valid_rows.sum() < MIN_HOLDOUT_PAIRS or fit_rows.sum() < MIN_HOLDOUT_PAIRS
        if in_sample:
            fit_rows, valid_rows, holdout = aligned, aligned, np.ones(n, bool)
        if aligned.sum() < 3:
            raise ValueError(f"expected at least 3 aligned turns with responses, got {int(aligned.sum())}")
        I, Y = arrays.intent_vectors(representation), np.asarray(arrays.response, np.float64)
        alpha, alpha_scores = choose_alpha(I[fit_rows], Y[fit_rows], I[valid_rows], Y[valid_rows])
        choice = choose_rank(I[fit_rows], Y[fit_rows], I[valid_rows], Y[valid_rows], alpha=alpha, tolerance=tolerance)
        targets = np.asarray(intent_targets, np.float64)
        labelled_fit = fit_rows & (targets.sum(axis=1) > 0)
        response_clf = (ResponseIntentClassifier.fit(Y[labelled_fit], targets[labelled_fit], classes=classes,
                                                     multi_label=multi_label, seed=seed)
                        if labelled_fit.any() else None)
        mlp = _fit_pair_scorer(arrays, fit_rows | (misaligned & ~holdout), misaligned, groups,
                               epochs=epochs, hidden=hidden, seed=seed, threads=scorer_threads)
        model = cls(representation, choice.fit, *_references(choice.fit, I[fit_rows], Y[fit_rows], seed),
                    response_clf, mlp, np.zeros(len(FEATURES) + 1), np.zeros(len(FEATURES)), np.ones(len(FEATURES)))
        features, labels = calibration_data(model, arrays, holdout, misaligned, groups, seed=seed)
        model._fit_combiner(features, labels)
        model.prior_misaligned = float(prior_misaligned) if prior_misaligned is not None else 0.5
        model.intent_classes = list(classes)
        model.report = {
            "representation": representation, "alpha": alpha, "alpha_r2": alpha_scores,
            "rank": choice.rank, "best_rank": choice.best_rank, "rank_r2": [round(float(x), 5) for x in choice.curve],
            "tolerance": tolerance, "aligned_pairs": int(aligned.sum()), "judged_misaligned": int(misaligned.sum()),
            "calibration_rows": int(len(labels)), "in_sample_calibration": bool(in_sample),
        }
        if refit_all:
            model._refit_cheap_parts(arrays, aligned, targets, classes, multi_label, seed)
        return model

    def _fit_combiner(self, features: np.ndarray, labels: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        self.feature_mean = features.mean(axis=0)
        self.feature_scale = np.where(features.std(axis=0) > 1e-9, features.std(axis=0), 1.0)
        if len(np.unique(labels)) < 2:
            raise ValueError("combiner: expected both aligned and misaligned examples, got one class")
        lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        lr.fit((features - self.feature_mean) / self.feature_scale, labels)
        self.combiner = np.concatenate([lr.intercept_, lr.coef_[0]])

    def refit_on(self, arrays: PairArrays, *, intent_targets, misaligned=None, multi_label: bool = False,
                 seed: int = 0) -> "AlignmentModel":
        """A copy whose cheap parts (ridge, response classifier) are refit on every aligned pair of
        ``arrays``; the pair MLP and the combiner are kept. For deploying after a held-out evaluation."""
        misaligned = np.zeros(len(arrays.response), bool) if misaligned is None else np.asarray(misaligned, bool)
        refit = copy(self)
        refit._refit_cheap_parts(arrays, ~misaligned, np.asarray(intent_targets, np.float64),
                                 list(self.intent_classes or []), multi_label, seed)
        return refit

    def _refit_cheap_parts(self, arrays, aligned, targets, classes, multi_label, seed) -> None:
        """Closed-form ridge and the linear response classifier are cheap: refit them on every aligned pair."""
        from pipeline.fusion import ResponseIntentClassifier

        I, Y = arrays.intent_vectors(self.representation), np.asarray(arrays.response, np.float64)
        self.ridge = fit_reduced_rank_ridge(I[aligned], Y[aligned], alpha=self.ridge.alpha).truncate(
            min(self.ridge.rank, min(I.shape[1], Y.shape[1], int(aligned.sum()))))
        self.reference_predicted, self.reference_responses = _references(self.ridge, I[aligned], Y[aligned], seed)
        labelled = aligned & (targets.sum(axis=1) > 0)
        if labelled.any():
            self.response_classifier = ResponseIntentClassifier.fit(
                Y[labelled], targets[labelled], classes=classes, multi_label=multi_label, seed=seed)

    def features(self, arrays: PairArrays) -> np.ndarray:
        """(n, 4) component scores in FEATURES order (higher cosine/agreement = better fit)."""
        predicted = self.ridge.predict(arrays.intent_vectors(self.representation))
        response = np.asarray(arrays.response, np.float64)
        cosine = cosine_rows(predicted, response)
        csls = csls_scores(predicted, response, reference_predicted=self.reference_predicted,
                           reference_responses=self.reference_responses)
        agreement = np.zeros(len(response))
        if self.response_classifier is not None:
            agreement = intent_agreement(arrays.intent_probs, self.response_classifier.predict_proba(response))
        pair = np.zeros(len(response))
        if self.mlp_layers:
            pair = -_mlp_logit(self.mlp_layers, pair_features(arrays.utterance, arrays.context, response))
        return np.column_stack([cosine, csls, agreement, pair])

    def score(self, arrays: PairArrays) -> AlignmentScores:
        features = self.features(arrays)
        z = self.combiner[0] + ((features - self.feature_mean) / self.feature_scale) @ self.combiner[1:]
        prior_shift = np.log(self.prior_misaligned) - np.log1p(-self.prior_misaligned)
        return AlignmentScores(1.0 / (1.0 + np.exp(z)), 1.0 / (1.0 + np.exp(-(z + prior_shift))), features)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for np.savez (no pickle); ``from_arrays`` reverses it."""
        out = {"representation": np.array(self.representation), "prior_misaligned": np.array(self.prior_misaligned),
               "combiner": self.combiner, "feature_mean": self.feature_mean, "feature_scale": self.feature_scale,
               "reference_predicted": self.reference_predicted, "reference_responses": self.reference_responses,
               "ridge_U": self.ridge.U, "ridge_V": self.ridge.V, "ridge_s": self.ridge.singular_values,
               "ridge_input_mean": self.ridge.input_mean, "ridge_output_mean": self.ridge.output_mean,
               "ridge_alpha": np.array(self.ridge.alpha), "mlp_depth": np.array(len(self.mlp_layers)),
               "intent_classes": np.array(list(self.intent_classes or []), dtype=str)}
        for i, (w, b) in enumerate(self.mlp_layers):
            out[f"mlp_w{i}"], out[f"mlp_b{i}"] = w, b
        if self.response_classifier is not None:
            out.update(self.response_classifier.to_arrays())
        return out

    @classmethod
    def from_arrays(cls, arrays, *, report: dict | None = None) -> "AlignmentModel":
        from pipeline.fusion import ResponseIntentClassifier

        a = {key: arrays[key] for key in arrays}
        ridge = RidgeFit(a["ridge_U"], a["ridge_V"], a["ridge_s"], a["ridge_input_mean"],
                         a["ridge_output_mean"], float(a["ridge_alpha"]))
        mlp = [(a[f"mlp_w{i}"], a[f"mlp_b{i}"]) for i in range(int(a["mlp_depth"]))]
        response_clf = ResponseIntentClassifier.from_arrays(a) if "response_clf_coef" in a else None
        return cls(str(a["representation"]), ridge, a["reference_predicted"], a["reference_responses"],
                   response_clf, mlp, a["combiner"], a["feature_mean"], a["feature_scale"],
                   float(a["prior_misaligned"]), report, [str(c) for c in a.get("intent_classes", [])])


def _holdout_groups(groups: np.ndarray, *, fraction: float = 0.25, seed: int = 0) -> np.ndarray:
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(unique, size=int(round(fraction * len(unique))), replace=False)
    return np.isin(groups, chosen)


def _references(ridge: RidgeFit, I: np.ndarray, Y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(len(I))
    if len(rows) > REFERENCE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, REFERENCE_ROWS, replace=False))
    return _unit_rows(ridge.predict(I[rows])).astype(np.float32), _unit_rows(Y[rows]).astype(np.float32)


def calibration_data(model: AlignmentModel, arrays: PairArrays, holdout, misaligned, groups, *, seed: int):
    """(features, labels) the combiner is fitted on: held-out real pairs (label = judged misaligned)
    plus two responses swapped in from other groups per aligned pair (label 1)."""
    real = np.flatnonzero(holdout)
    turns, sources = swap_partners(groups, np.flatnonzero(holdout & ~misaligned), repeats=2, seed=seed + 1)
    swapped = arrays.subset(turns).with_responses(np.asarray(arrays.response)[sources])
    features = np.vstack([model.features(arrays.subset(real)), model.features(swapped)])
    return features, np.concatenate([misaligned[real], np.ones(len(turns), bool)]).astype(int)


def _fit_pair_scorer(arrays: PairArrays, rows, misaligned, groups, *, epochs: int, hidden: int,
                     seed: int, threads: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The listwise pair scorer (``pipeline.pair_scorer``) on ``rows``; [] when there is too little data."""
    from pipeline.pair_scorer import fit_pair_scorer

    rows = np.flatnonzero(rows)
    return fit_pair_scorer(np.asarray(arrays.utterance)[rows], np.asarray(arrays.context)[rows],
                           np.asarray(arrays.response)[rows], np.asarray(groups)[rows],
                           misaligned=np.asarray(misaligned)[rows], hidden=hidden, epochs=epochs, seed=seed,
                           threads=threads)


def _process_torch_threads() -> int:
    """The torch threads this process was configured for (``pipeline.encoders.configure_threads``): the
    pair scorer's matrix products run 2.2x faster on two idle cores than on one."""
    import torch

    return torch.get_num_threads()


def _mlp_logit(layers: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray) -> np.ndarray:
    """Forward pass of the stored pair network (ReLU hidden layers, one output): the logit of "misaligned"."""
    h = X
    for w, b in layers[:-1]:
        h = np.maximum(h @ w + b, 0.0)
    w, b = layers[-1]
    return np.clip((h @ w + b)[:, 0], -30.0, 30.0)
