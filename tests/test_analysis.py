"""store.analysis / store.agreement / store.evidence: the analyst views' reads, checked against
independent computations (store.effective, pipeline.metrics, sklearn, published worked examples)."""
from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from store import analysis as A
from store import agreement as G
from store import annotations, evidence, importer, labels

INTENTS = ["balance", "refund", "track"]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def turn(i, **labels_):
    return {"id": f"t{i}", "conversation_id": f"c{i // 2}", "turn_index": i % 2, "text": f"turn number {i} text here",
            "response": f"response {i}", **labels_}


def submit(db, turn_id, annotator, intents, *, sentiment=None, entities=(), duration_ms=5000):
    annotations.submit(db, annotation_id=str(uuid.uuid4()), turn_id=turn_id, project="default", annotator=annotator,
                       intents=intents, entities=list(entities), sentiment=sentiment, duration_ms=duration_ms)


def add_run(db, run_id, predictions: dict, *, metrics=None, finished="2024-05-02 00:00:00"):
    def write(con):
        con.execute("INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
                    " created_at, finished_at) VALUES (?, 'default', 'fast', 'done', ?, ?, ?, '{}', ?, ?)",
                    [run_id, f"v-{run_id}", len(predictions), json.dumps(metrics or {}), finished, finished])
        for tid, p in predictions.items():
            con.execute("INSERT INTO predictions (run_id, turn_id, intents, intent_probs, entities, entity_scores,"
                        " sentiment, sentiment_probs, alignment_score, misalignment_prob, uncertainty)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, tid, [p["intent"]], json.dumps(p["probs"]), p.get("entities", []),
                         [0.9] * len(p.get("entities", [])), p.get("sentiment"),
                         json.dumps(p.get("sprobs", {})), p.get("alignment"), None if p.get("alignment") is None
                         else 1 - p["alignment"], 0.1])
    db.write(write)


@pytest.fixture
def project(db, tmp_path):
    """12 turns: 0-5 imported gold, 6-9 labelled by annotators, 10-11 unlabelled; one run predicting all."""
    rng = np.random.default_rng(0)
    records = [turn(i, intents=[INTENTS[i % 3]], sentiment="neutral",
                    entities=[{"start": 0, "end": 4, "label": "word"}]) for i in range(6)]
    records += [turn(i) for i in range(6, 12)]
    report = importer.import_files(db, [write_jsonl(tmp_path / "t.jsonl", records)])
    assert report.ok, report.problems
    for i in range(6, 10):
        submit(db, f"t{i}", "ann", [INTENTS[i % 3]], sentiment="positive", entities=[{"start": 5, "end": 11, "label": "word"}])
    predictions = {}
    for i in range(12):
        intent = INTENTS[(i + (i in (1, 7, 8))) % 3]        # wrong on 1, 7 and 8
        probs = dict(zip(INTENTS, rng.dirichlet(np.ones(3)).round(3).tolist()))
        probs[intent] = 0.9
        spans = [{"start": 0, "end": 4, "label": "word"}] if i % 2 else []
        predictions[f"t{i}"] = {"intent": intent, "probs": probs, "sentiment": "neutral",
                                "sprobs": {"neutral": 0.7, "positive": 0.3}, "entities": spans,
                                "alignment": round(0.05 + i / 12, 3)}
    add_run(db, "run1", predictions, metrics={"holdout": {"n": 3, "intent_accuracy": 0.7}})
    return predictions


# ------------------------------------------------------------------------------ statistics
def test_cohen_kappa_matches_the_worked_example_and_sklearn():
    from sklearn.metrics import cohen_kappa_score

    # Wikipedia's worked example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> kappa 0.4
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert G.cohen_kappa(a, b) == pytest.approx(0.4)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    y[:120] = x[:120]
    assert G.cohen_kappa(x, y) == pytest.approx(cohen_kappa_score(x, y))
    assert G.cohen_kappa([], []) is None


def test_krippendorff_alpha_matches_krippendorffs_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", nominal example: alpha = 0.743
    nan = np.nan
    data = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
                     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
                     [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
                     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]])
    assert G.krippendorff_alpha(data) == pytest.approx(0.743, abs=0.001)
    assert G.krippendorff_alpha(np.array([[1.0, 1.0], [1.0, 1.0]])) is None   # one value: undefined


# ------------------------------------------------------------------------------ health
def test_confusion_matches_effective_labels_and_predictions(db, project):
    from pipeline.metrics import confusion as reference
    from store.effective import effective_labels

    eff = effective_labels(db, "default")
    gold = [row["intents"][0] for _, row in eff.iterrows()]
    pred = [project[t]["intent"] for t in eff["turn_id"]]
    expected = reference(gold, pred)
    got = A.confusion(db)
    assert got["labels"] == expected["labels"] and got["matrix"] == expected["matrix"]
    assert got["n"] == 10 and got["scope"] == "labelled" and got["run_id"] == "run1"


def test_per_class_scores_match_sklearn(db, project):
    from sklearn.metrics import precision_recall_fscore_support

    data = A.confusion(db)
    m = np.array(data["matrix"])
    gold = [data["labels"][i] for i in range(len(m)) for j in range(len(m)) for _ in range(m[i, j])]
    pred = [data["labels"][j] for i in range(len(m)) for j in range(len(m)) for _ in range(m[i, j])]
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=data["labels"], zero_division=0)
    table = A.per_class_scores(data)
    np.testing.assert_allclose(table["precision"], p.round(4))
    np.testing.assert_allclose(table["f1"], f.round(4))
    assert table["support"].tolist() == s.tolist()


def test_confusion_cell_lists_exactly_those_turns(db, project):
    data = A.confusion(db)
    for i, g in enumerate(data["labels"]):
        for j, q in enumerate(data["labels"]):
            cell = A.confusion_cell_turns(db, gold=g, predicted=q)
            assert len(cell) == data["matrix"][i][j]
            assert all(project[t]["intent"] == q for t in cell["turn_id"])
    wrong = A.confusion_cell_turns(db, gold="refund", predicted="track")
    assert set(wrong["turn_id"]) <= {"t1", "t7", "t8"} and wrong["text"].str.startswith("turn number").all()


def test_heldout_ids_restrict_the_scope(db, project):
    add_run(db, "run2", project, metrics={"holdout_ids": ["t1", "t2", "t3"]}, finished="2024-05-03 00:00:00")
    data = A.confusion(db)
    assert data["run_id"] == "run2" and data["scope"] == "held-out" and data["n"] == 3
    assert A.confusion(db, run_id="run1")["n"] == 10


def test_renamed_intents_read_as_todays_name(db, project):
    labels.rename_label(db, "default", "intent", "refund", "money_back", by="admin")
    data = A.confusion(db)
    assert "refund" not in data["labels"] and "money_back" in data["labels"]
    assert len(A.confusion_cell_turns(db, gold="money_back", predicted="money_back")) >= 1


def test_label_error_candidates_rank_by_probability_of_the_given_label(db, project):
    rows = A.label_error_candidates(db)
    assert set(rows["turn_id"]) == {"t1", "t7", "t8"}
    for _, r in rows.iterrows():
        assert r["score"] == pytest.approx(1 - project[r["turn_id"]]["probs"][r["given"]])
        assert r["suggested"] == project[r["turn_id"]]["intent"]
    assert rows["score"].is_monotonic_decreasing


def test_calibration_bins_count_every_labelled_prediction(db, project):
    table = A.calibration(db, bins=5)
    assert table["count"].sum() == 10
    assert ((table["confidence"] >= table["bin"] / 5) & (table["confidence"] <= (table["bin"] + 1) / 5)).all()
    top = table[table["bin"] == 4].iloc[0]
    assert top["accuracy"] == pytest.approx(7 / 10)    # every prediction has p = 0.9; 3 of 10 are wrong


def test_entity_scores_match_the_shared_metric(db, project):
    from pipeline.metrics import entity_scores
    from store.effective import effective_labels

    eff = effective_labels(db, "default")
    expected = entity_scores([list(e) for e in eff["entities"]], [project[t]["entities"] for t in eff["turn_id"]])
    got = A.entity_scores(db).set_index("label")
    assert got.loc["word", "f1"] == pytest.approx(expected["per_type"]["word"]["f1"], abs=1e-4)
    assert got.loc["word", "support"] == expected["per_type"]["word"]["support"]


def test_runs_give_the_learning_curve(db, project):
    table = A.runs(db)
    assert table["n_labels"].tolist() == [12] and table["intent_accuracy"].tolist() == [0.7]


# ------------------------------------------------------------------------------ misalignment
def test_worst_aligned_orders_and_filters(db, project):
    worst = A.worst_aligned(db, limit=5)
    assert worst["turn_id"].tolist() == [f"t{i}" for i in range(5)]
    refund = A.worst_aligned(db, intent="refund")
    assert set(refund["intent"]) == {"refund"} and len(refund) > 0
    mine = A.worst_aligned(db, annotator="ann")
    assert set(mine["turn_id"]) == {"t6", "t7", "t8", "t9"}
    assert A.worst_aligned(db, since="2999-01-01").empty
    hist = A.alignment_histogram(db, bins=4)
    assert hist["count"].sum() == 12


# ------------------------------------------------------------------------------ agreement
@pytest.fixture
def overlap(db, tmp_path):
    """3 annotators on 4 turns: ann and bob always agree; cyd differs on u2 and u3; u1 is flagged."""
    importer.import_files(db, [write_jsonl(tmp_path / "u.jsonl", [{"id": f"u{i}", "text": f"hello there {i}"}
                                                                    for i in range(5)])])
    labels.set_overlap(db, "default", 3)
    spans = [{"start": 0, "end": 5, "label": "greet"}]
    plan = {"u0": ("a", "a", "a"), "u1": ("b", "b", "b"), "u2": ("a", "a", "b"), "u3": ("b", "b", "a")}
    for tid, votes in plan.items():
        for who, intent in zip(("ann", "bob", "cyd"), votes):
            submit(db, tid, who, [intent], sentiment="neutral" if who != "cyd" else "negative",
                   entities=spans if who != "cyd" or tid == "u0" else [], duration_ms=2000 if who == "ann" else 8000)
    annotations.flag(db, annotation_id="f1", turn_id="u1", project="default", annotator="ann", note="odd one")
    return plan


def test_agreement_summary(db, overlap):
    summary = A.agreement_summary(db)
    assert summary["n_turns"] == 4 and summary["annotators"] == ["ann", "bob", "cyd"]
    votes = {who: [overlap[t][k] for t in sorted(overlap)] for k, who in enumerate(("ann", "bob", "cyd"))}
    codes = {"a": 0.0, "b": 1.0}
    expected_alpha = G.krippendorff_alpha(np.array([[codes[v] for v in votes[w]] for w in ("ann", "bob", "cyd")]))
    assert summary["intent"]["alpha"] == pytest.approx(expected_alpha)
    pairs = {(p["a"], p["b"]): p["kappa"] for p in summary["intent"]["pairs"]}
    assert pairs[("ann", "bob")] == 1.0
    assert pairs[("ann", "cyd")] == pytest.approx(G.cohen_kappa(votes["ann"], votes["cyd"]))
    spans = {(p["a"], p["b"]): p["f1"] for p in summary["entity"]["pairs"]}
    assert spans[("ann", "bob")] == 1.0 and spans[("ann", "cyd")] == pytest.approx(2 * 1 / (4 + 1))


def test_annotator_stats(db, overlap):
    stats = A.annotator_stats(db).set_index("annotator")
    assert stats.loc["ann", "agree_majority"] == 1.0 and stats.loc["cyd", "agree_majority"] == 0.5
    assert stats.loc["ann", "median_seconds"] == 2.0 and stats.loc["bob", "labels_per_hour"] == 450.0


def test_adjudication_queue_and_resolution_keeps_history(db, overlap):
    queue = A.adjudication_queue(db)
    assert set(queue["turn_id"]) == {"u0", "u1", "u2", "u3"}     # sentiment differs everywhere; u1 also flagged
    assert "flagged" in queue.set_index("turn_id").loc["u1", "reason"]
    votes = A.turn_votes(db, "u2")
    assert [v["intents"] for v in votes] == [["a"], ["a"], ["b"]]
    annotations.adjudicate(db, annotation_id="adj-u2", turn_id="u2", project="default", reviewer="rev",
                           intents=["a"], sentiment="neutral", note="majority")
    assert "u2" not in set(A.adjudication_queue(db)["turn_id"])
    assert A.current_labels(db, "default", ["u2"])["u2"]["source"] == "adjudicated"
    assert len(annotations.history(db, "u2")) == 4


# ------------------------------------------------------------------------------ evidence
def test_nearest_labelled_and_map_from_published_embeddings(db, project):
    from store.jobfiles import RESULTS, default_jobs_dir

    assert evidence.nearest_labelled(db, "default", "t10") is None      # nothing published yet
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(12, 8))
    vectors[10] = vectors[4] + 0.01                                      # t10 (unlabelled) ~ t4 (labelled)
    out = default_jobs_dir(db.path) / RESULTS / "run1"
    out.mkdir(parents=True)
    np.savez(out / "embeddings.npz", ids=np.array([f"t{i}" for i in range(12)]), vectors=vectors.astype(np.float16))
    near = evidence.nearest_labelled(db, "default", "t10", k=3)
    assert near["turn_id"].iloc[0] == "t4" and near["intents"].iloc[0] == [INTENTS[4 % 3]]
    assert "t11" not in set(near["turn_id"]) and near["similarity"].is_monotonic_decreasing
    points = evidence.embedding_map(db, "default", sample=10)
    assert len(points) == 10 and {"x", "y", "intent", "misalignment_prob", "text"} <= set(points.columns)
