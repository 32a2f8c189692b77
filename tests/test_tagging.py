"""BIO decoding: the argmax shortcut must give a path as probable as the full Viterbi, and spans must
match a plain token-by-token reading of the path."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.tagging import allowed_transitions, best_bio_path, decode_spans, tag_names, viterbi_bio

NAMES = tag_names(["city", "date", "order_id"])


def path_log_prob(log_probs, path):
    return float(log_probs[np.arange(len(path)), path].sum())


def is_valid(path, names):
    start_ok, step_ok = allowed_transitions(names)
    return bool(start_ok[path[0]] and step_ok[path[:-1], path[1:]].all())


def reference_spans(probs, offsets, names, path):
    """The straightforward loop: a span is B-X followed by I-X tokens."""
    spans, current = [], None
    for i, tag in enumerate(path):
        name = names[tag]
        if current is not None and name == f"I-{current['label']}":
            current["tokens"].append(i)
            continue
        if current is not None:
            spans.append(current)
            current = None
        if name.startswith("B-"):
            current = {"label": name[2:], "tokens": [i]}
    if current is not None:
        spans.append(current)
    return [(int(offsets[s["tokens"][0]][0]), int(offsets[s["tokens"][-1]][1]), s["label"],
             float(np.mean([probs[i, path[i]] for i in s["tokens"]]))) for s in spans]


@pytest.mark.parametrize("sharpness", [0.3, 1.0, 4.0])
def test_shortcut_path_is_as_probable_as_viterbi_and_spans_follow_it(sharpness):
    rng = np.random.default_rng(int(sharpness * 10))
    start_ok, step_ok = allowed_transitions(NAMES)
    shortcut_used = 0
    for _ in range(300):
        t = int(rng.integers(1, 14))
        logits = rng.normal(size=(t, len(NAMES))) * sharpness * 3
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        log_probs = np.log(np.clip(probs, 1e-12, 1.0))
        fast, exact = best_bio_path(log_probs, NAMES), viterbi_bio(log_probs, start_ok, step_ok)
        assert is_valid(fast, NAMES)
        assert path_log_prob(log_probs, fast) == pytest.approx(path_log_prob(log_probs, exact), abs=1e-9)
        shortcut_used += bool((fast == log_probs.argmax(axis=1)).all())
        offsets = np.cumsum(rng.integers(1, 4, size=(t, 2)), axis=None).reshape(t, 2)
        got = [(s["start"], s["end"], s["label"], s["score"]) for s in decode_spans(probs, offsets, NAMES)]
        want = reference_spans(probs, offsets, NAMES, fast)
        assert [g[:3] for g in got] == [w[:3] for w in want]
        assert [g[3] for g in got] == pytest.approx([w[3] for w in want], rel=1e-5)
    assert shortcut_used > 0                       # both branches are exercised


def test_invalid_argmax_falls_back_to_the_constrained_path():
    probs = np.full((2, len(NAMES)), 0.001)
    probs[0, NAMES.index("O")], probs[0, NAMES.index("B-city")] = 0.6, 0.3
    probs[1, NAMES.index("I-city")] = 0.9
    path = best_bio_path(np.log(probs), NAMES)
    assert [NAMES[t] for t in path] == ["B-city", "I-city"]


def test_cached_transitions_cannot_be_mutated_by_a_caller():
    start_ok, step_ok = allowed_transitions(NAMES)
    with pytest.raises(ValueError):
        step_ok[0, 0] = False
    assert allowed_transitions(list(NAMES))[1] is step_ok
