"""Label-error ranking: the pure confident-learning functions on synthetic probabilities, and the
out-of-fold audit + ``concord find-errors`` end to end on a tiny from-scratch encoder."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from pipeline import label_errors as LE
from pipeline.label_errors_oof import fold_assignment


def noisy_problem(n=300, k=4, flips=15, seed=0):
    """Confident, mostly right out-of-sample probabilities; ``flips`` labels changed to another class."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k) * 0.3, n) * 0.2
    probs[np.arange(n), truth] += 0.8
    probs /= probs.sum(1, keepdims=True)
    given = truth.copy()
    flipped = rng.choice(n, flips, replace=False)
    given[flipped] = (truth[flipped] + rng.integers(1, k, flips)) % k
    return given, probs, set(flipped.tolist()), truth


def test_class_issues_flag_and_rank_the_flipped_labels_first():
    given, probs, flipped, truth = noisy_problem()
    issues = LE.class_label_issues(given, probs)
    top = np.argsort(-issues.score)[:len(flipped)]
    assert set(top.tolist()) == flipped
    flagged = set(np.flatnonzero(issues.is_issue).tolist())
    assert flagged <= flipped and len(flagged) >= len(flipped) // 2   # the CL filter is conservative, never wrong here
    assert all(issues.suggested[i] == truth[i] for i in flipped)


def test_issue_rows_name_given_and_suggested_classes():
    given, probs, flipped, truth = noisy_problem(n=120, k=3, flips=5, seed=3)
    classes = ["a", "b", "c"]
    rows = LE.rank_rows(LE.issue_rows(list(range(120)), LE.class_label_issues(given, probs), classes, given.tolist(),
                                      field="intent", only_flagged=False))
    assert {r["id"] for r in rows} == flipped
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    for r in rows:
        assert r["field"] == "intent" and r["given"] == classes[given[r["id"]]] and r["suggested"] == classes[truth[r["id"]]]
        assert 0.0 <= r["score"] <= 1.0


def test_class_issues_reject_bad_shapes_with_expected_and_actual():
    with pytest.raises(ValueError, match=r"expected an \(n, k\) array"):
        LE.class_label_issues([0, 1], np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\)"):
        LE.class_label_issues(np.array([0, 5]), np.array([[0.5, 0.5], [0.4, 0.6]]))
    with pytest.raises(ValueError, match="method"):
        LE.class_label_issues(np.array([0, 1]), np.array([[0.5, 0.5], [0.4, 0.6]]), method="magic")


def test_multilabel_issues_find_a_missing_and_an_extra_label():
    rng = np.random.default_rng(1)
    n, k = 200, 5
    truth = (rng.random((n, k)) < 0.25).astype(int)
    probs = np.clip(truth * 0.9 + rng.random((n, k)) * 0.08, 0, 1)
    given = [sorted(np.flatnonzero(row).tolist()) for row in truth]
    given[7] = sorted(set(given[7]) ^ {2})    # one label toggled
    given[42] = sorted(set(given[42]) ^ {4})
    issues = LE.multilabel_label_issues(given, probs)
    assert set(np.argsort(-issues.score)[:2].tolist()) == {7, 42}
    assert issues.suggested[7] == np.flatnonzero(truth[7]).tolist()


def test_token_issues_and_bio_merging():
    names = ["O", "B-city", "I-city", "B-product", "I-product"]
    bio = np.array([[0.9, 0.05, 0.0, 0.05, 0.0], [0.1, 0.0, 0.8, 0.1, 0.0], [0.0, 0.5, 0.1, 0.4, 0.0]])
    merged = LE.merge_bio_probs(bio, names, ["city", "product"])
    np.testing.assert_allclose(merged, [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.0, 0.6, 0.4]])
    offsets = np.array([[0, 2], [3, 8], [8, 12]])
    assert LE.token_types(offsets, [{"start": 3, "end": 12, "label": "product"}], ["city", "product"]).tolist() == [0, 2, 2]
    with pytest.raises(ValueError, match=r"expected \(t, 5\)"):
        LE.merge_bio_probs(bio[:, :3], names, ["city"])


def test_token_issues_point_at_the_mislabelled_tokens():
    rng = np.random.default_rng(2)
    labels, probs = [], []
    for _ in range(80):
        truth = rng.choice(3, size=8, p=[0.7, 0.15, 0.15])
        p = rng.dirichlet(np.ones(3), 8) * 0.1
        p[np.arange(8), truth] += 0.9
        labels.append(truth.copy())
        probs.append(p / p.sum(1, keepdims=True))
    labels[5][3] = (labels[5][3] + 1) % 3
    labels[9][0] = (labels[9][0] + 2) % 3
    issues = LE.token_label_issues(labels, probs)
    flagged = {(i, j) for i, iss in enumerate(issues) for j in np.flatnonzero(iss.is_issue)}
    assert flagged == {(5, 3), (9, 0)}
    rows = LE.entity_issue_rows(list(range(80)), ["x" * 40] * 80, [np.array([[j, j + 1] for j in range(8)])] * 80,
                                issues, labels, ["city", "product"])
    assert {(r["id"], r["start"]) for r in rows} == {(5, 3), (9, 0)}


def test_fold_assignment_is_stratified_and_seeded():
    strata = ["a"] * 50 + ["b"] * 7 + ["c"] * 2
    folds = fold_assignment(strata, folds=5, seed=3)
    assert np.array_equal(folds, fold_assignment(strata, folds=5, seed=3))
    assert sorted(np.bincount(folds[:50]).tolist()) == [10] * 5
    assert len(set(folds[50:57].tolist())) == 5 and len(set(folds[57:].tolist())) == 2
    with pytest.raises(ValueError, match="at least 2"):
        fold_assignment(strata, folds=1)


# ----------------------------------------------------------------- end to end, tiny encoder
WORDS = {
    "refund": ["refund", "money", "back", "return", "reimburse"],
    "track": ["where", "parcel", "tracking", "shipped", "delivery"],
    "cancel": ["cancel", "stop", "subscription", "terminate", "end"],
}
FILLER = ["please", "i", "want", "to", "my", "the", "now", "today", "hi", "order"]


def make_records(n_per=40, seed=0):
    rng = random.Random(seed)
    records = []
    for intent, words in WORDS.items():
        for i in range(n_per):
            tokens = rng.sample(words, 3) + rng.sample(FILLER, 3)
            rng.shuffle(tokens)
            text = " ".join(tokens) + " in paris"
            start = text.index("paris")
            records.append({"id": f"{intent}-{i}", "text": text, "intents": [intent],
                            "entities": [{"start": start, "end": start + 5, "label": "city"}],
                            "sentiment": "negative" if intent == "cancel" else "neutral"})
    return records


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    from pipeline.encoders import load_encoder
    from pipeline.tiny import build_tiny_encoder

    root = tmp_path_factory.mktemp("tiny")
    texts = [r["text"] for r in make_records()]
    path = build_tiny_encoder(texts, root / "enc", hidden=64, layers=2, seed=0)
    return str(path), load_encoder(str(path), cache_dir=root / "cache")


def flip(records, ids, to):
    out = [dict(r) for r in records]
    for r in out:
        if r["id"] in ids:
            r["intents"] = [to[r["id"]]]
    return out


def test_rank_label_errors_finds_flipped_intents_out_of_fold(tiny_encoder):
    _, encoder = tiny_encoder
    flips = {"refund-3": "track", "track-7": "cancel", "cancel-11": "refund"}
    records = flip(make_records(), set(flips), flips)
    rows = LE.rank_label_errors(records, encoder=encoder, folds=4, fields=("intent",))
    assert {r["id"] for r in rows[:3]} == set(flips)
    top = {r["id"]: r for r in rows[:3]}
    assert top["refund-3"]["given"] == "track" and top["refund-3"]["suggested"] == "refund"
    assert all(set(r) == {"id", "field", "given", "suggested", "score", "flagged"} for r in rows)


def test_rank_label_errors_covers_sentiment_and_entities(tiny_encoder):
    _, encoder = tiny_encoder
    records = make_records()
    records[5] = dict(records[5], sentiment="negative")                 # a refund turn, should be neutral
    records[8] = dict(records[8], entities=[])                          # the city left unmarked
    # intent_C: the random tiny encoder's features are weak; the audit's strong default L2 flattens them
    rows = LE.rank_label_errors(records, encoder=encoder, folds=4, intent_C=20.0)
    fields = {r["field"] for r in rows}
    assert {"sentiment", "entity"} <= fields
    sentiment_top = [r for r in rows if r["field"] == "sentiment"][0]
    assert sentiment_top["id"] == records[5]["id"] and sentiment_top["suggested"] == "neutral"
    entity = [r for r in rows if r["field"] == "entity" and r["id"] == records[8]["id"]]
    assert entity and entity[0]["given"] == "O" and entity[0]["suggested"] == "city"
    assert "paris".startswith(entity[0]["span_text"][:3])


def test_find_errors_cli_prints_json_most_likely_first(tiny_encoder, tmp_path, capsys):
    from workbench.cli import main

    path, _ = tiny_encoder
    flips = {"track-2": "refund", "cancel-4": "track"}
    records = flip(make_records(), set(flips), flips)
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    status = main(["find-errors", "--data", str(data), "--top", "2", "--json", "--encoder", path,
                   "--folds", "4", "--fields", "intent"])
    assert status == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and {r["id"] for r in rows} == set(flips)
    assert rows[0]["score"] >= rows[1]["score"]


def test_find_errors_cli_reports_input_problems(tmp_path, capsys):
    from workbench.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi", "entities": [{"start": 0, "end": 9, "label": "x"}]}\n', encoding="utf-8")
    assert main(["find-errors", "--data", str(bad), "--json"]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err


@pytest.mark.slow
def test_bitext_random_flips_rank_first_with_the_packaged_encoder(shared_data):
    """A small version of bench/bench_label_errors.py: 1,000 Bitext turns, 5% of intents flipped."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))      # bench/ is not an installed package
    from bench.datasets import load

    records = [dict(r, entities=[], sentiment=None) for r in load("bitext", split="train")[:1000]
               if len(r.get("intents") or []) == 1]
    rng = np.random.default_rng(0)
    intents = sorted({r["intents"][0] for r in records})
    flipped = set()
    for i in rng.choice(len(records), 50, replace=False):
        others = [x for x in intents if x != records[i]["intents"][0]]
        records[i] = dict(records[i], intents=[others[rng.integers(len(others))]])
        flipped.add(records[i]["id"])
    rows = LE.rank_label_errors(records, fields=("intent",), top=len(flipped))
    precision = len({r["id"] for r in rows} & flipped) / len(flipped)
    assert precision >= 0.85, precision
