"""The out-of-fold audit failed on every real project with entities: the tagger head returns float32
softmax rows, and summing a token's B- and I- probabilities into its entity type (``merge_bio_probs``)
in float64 gives values like 1.00000003, which the strict [0, 1] check refused
("pred_probs[67]: expected probabilities in [0, 1], got values in [1.48e-10, 1.0000000064]").
Float rounding is now tolerated and clipped away before cleanlab sees the probabilities; values that
are really out of range are still refused."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline import label_errors as LE
from pipeline.heads import scores_to_proba
from pipeline.label_errors_oof import EntityOOF

TAGS = ["O", "B-city", "I-city"]


def tagger_probs(rows: list[list[float]]) -> np.ndarray:
    """Token probabilities as the real tagger head returns them (its float32 softmax)."""
    return scores_to_proba(np.log(np.asarray(rows, dtype=np.float64)), "softmax")


def entity_oof(n_turns: int = 30) -> EntityOOF:
    """Turns of 3 tokens: "in", then a city over two tokens the model splits 0.6 B / 0.4 I (whose float32
    sum is above 1), on the last turns left unannotated (a missed entity the audit should list)."""
    oof = EntityOOF(ids=[], texts=[], entity_types=["city"])
    for i in range(n_turns):
        text = "in new york"
        bio = tagger_probs([[0.98, 0.01, 0.01], [1e-10, 0.6, 0.4], [1e-10, 0.6, 0.4]])
        offsets = np.array([[0, 2], [3, 6], [7, 11]])
        spans = [] if i >= n_turns - 2 else [{"start": 3, "end": 11, "label": "city"}]
        oof.ids.append(f"t{i}")
        oof.texts.append(text)
        oof.offsets.append(offsets)
        oof.given.append(LE.token_types(offsets, spans, oof.entity_types))
        oof.probs.append(LE.merge_bio_probs(bio, TAGS, oof.entity_types))
    return oof


def test_merging_float32_tagger_probabilities_stays_within_one():
    bio = tagger_probs([[1e-10, 0.6, 0.4]])
    assert float(bio[0, 1]) + float(bio[0, 2]) > 1.0      # the sum that made every audit with entities fail
    merged = LE.merge_bio_probs(bio, TAGS, ["city"])
    assert merged.max() <= 1.0 and merged[0, 1] == pytest.approx(1.0)


def test_the_audit_ranks_entities_whose_merged_probabilities_round_above_one():
    rows = entity_oof().rows()
    assert {(r["id"], r["given"], r["suggested"], r["span_text"]) for r in rows} == {
        ("t28", "O", "city", "new york"), ("t29", "O", "city", "new york")}
    assert all(0.0 <= r["score"] <= 1.0 for r in rows)


def test_class_issues_accept_rounding_and_hand_cleanlab_valid_probabilities():
    probs = np.array([[0.5, 0.5 + 3e-8], [1.0 + 6e-9, -1e-9], [0.2, 0.8]] * 10)
    issues = LE.class_label_issues(np.array([0, 0, 1] * 10), probs)
    assert np.all((issues.quality >= 0) & (issues.quality <= 1))
    checked = LE._check_probs(probs)
    assert checked.min() >= 0.0 and checked.max() <= 1.0


@pytest.mark.parametrize("bad", [1.01, -0.01, np.nan, np.inf])
def test_probabilities_really_out_of_range_are_still_refused(bad):
    probs = np.array([[0.5, 0.5], [bad, 0.2]])
    with pytest.raises(ValueError, match=r"expected probabilities in \[0, 1\]"):
        LE.class_label_issues(np.array([0, 1]), probs)
