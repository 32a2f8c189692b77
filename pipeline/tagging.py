"""BIO tagging over subword offsets: spans -> token tags, and token probabilities -> spans.

Entity spans live in code points on the user's text; the taggers see subwords. Encoding marks
every subword that overlaps a span (B on the first, I on the rest); decoding runs a Viterbi pass
that forbids ``I-X`` unless it follows ``B-X``/``I-X`` (the constraint a CRF would learn, applied
exactly), then maps each tag run back to code points with the first and last subword's offsets.
"""
from __future__ import annotations

import numpy as np

OUTSIDE = "O"


def tag_names(entity_labels: list[str]) -> list[str]:
    """``["O", "B-a", "I-a", "B-b", ...]`` in a fixed order (entity labels sorted)."""
    names = [OUTSIDE]
    for label in sorted(entity_labels):
        names += [f"B-{label}", f"I-{label}"]
    return names


def encode_bio(offsets: np.ndarray, spans: list[dict], names: list[str]) -> np.ndarray:
    """Tag index per subword. Subwords overlapping no span are O; overlapping spans keep the first."""
    index = {name: i for i, name in enumerate(names)}
    tags = np.zeros(len(offsets), dtype=np.int64)
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        inside = [i for i, (a, b) in enumerate(offsets) if a < span["end"] and b > span["start"] and tags[i] == 0]
        if not inside or f"B-{span['label']}" not in index:
            continue
        tags[inside[0]] = index[f"B-{span['label']}"]
        for i in inside[1:]:
            tags[i] = index[f"I-{span['label']}"]
    return tags


def allowed_transitions(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(start_ok (k,), step_ok (k, k)): I-X may only start after B-X or I-X, never first."""
    k = len(names)
    start_ok = np.array([not n.startswith("I-") for n in names])
    step_ok = np.ones((k, k), dtype=bool)
    for j, name in enumerate(names):
        if name.startswith("I-"):
            label = name[2:]
            step_ok[:, j] = [prev in (f"B-{label}", f"I-{label}") for prev in names]
    return start_ok, step_ok


def viterbi_bio(log_probs: np.ndarray, start_ok: np.ndarray, step_ok: np.ndarray) -> np.ndarray:
    """Most probable tag path under the BIO constraints (transitions otherwise free)."""
    t, k = log_probs.shape
    if t == 0:
        return np.zeros(0, dtype=np.int64)
    forbid = np.where(step_ok, 0.0, -np.inf)
    score = np.where(start_ok, log_probs[0], -np.inf)
    back = np.zeros((t, k), dtype=np.int64)
    for i in range(1, t):
        total = score[:, None] + forbid          # (prev, next)
        back[i] = total.argmax(axis=0)
        score = total.max(axis=0) + log_probs[i]
    path = np.zeros(t, dtype=np.int64)
    path[-1] = int(score.argmax())
    for i in range(t - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def decode_spans(probs: np.ndarray, offsets: np.ndarray, names: list[str]) -> list[dict]:
    """Spans ``{start, end, label, score}`` from token probabilities (t, k); score = mean tag prob."""
    if len(probs) == 0:
        return []
    start_ok, step_ok = allowed_transitions(names)
    path = viterbi_bio(np.log(np.clip(probs, 1e-12, 1.0)), start_ok, step_ok)
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
    return [{"start": int(offsets[s["tokens"][0]][0]), "end": int(offsets[s["tokens"][-1]][1]),
             "label": s["label"], "score": float(np.mean([probs[i, path[i]] for i in s["tokens"]]))}
            for s in spans]
