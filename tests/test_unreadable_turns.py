"""Turns the run's encoder cannot read (mostly [UNK] to the packaged English MiniLM, e.g. Chinese) are flagged
per turn by the worker, kept with the run's predictions, and set aside on the label-errors page: the model's
"confident disagreement" with their labels comes from a blind encoder, not from a wrong label."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app_testkit import texts
from pipeline.encoder_choice import EncoderChoice
from pipeline.encoders import MULTILINGUAL
from store import analysis, importer, jobfiles as jf, runs
import test_analysis_pages
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db      # the analyst pages' store: 20 labelled turns, run-a disagrees on x2 and x7

CHINESE = "我的信用卡丢了，请帮我冻结"
ENGLISH_WITH_EMOJI = "I lost my card 😱 please block it 👋"


# -- pipeline ----------------------------------------------------------------------------------------------
def test_a_chinese_turn_is_unreadable_to_the_packaged_encoder_and_english_with_emoji_is_not():
    from pipeline.encoder_choice import _packaged_tokenizer, encoder_reads, unreadable_flags

    flags = unreadable_flags(_packaged_tokenizer(), [CHINESE, ENGLISH_WITH_EMOJI, "👍", ""])
    assert flags == [True, False, False, False]
    assert encoder_reads(EncoderChoice(None, "auto"), [CHINESE, ENGLISH_WITH_EMOJI]) == [False, True]
    assert encoder_reads(EncoderChoice("default", "named"), [CHINESE]) == [False]      # an alias of the packaged one


def test_no_claim_is_made_for_the_multilingual_or_a_named_encoder():
    from pipeline.encoder_choice import encoder_reads

    assert encoder_reads(EncoderChoice(MULTILINGUAL, "auto"), [CHINESE]) is None
    assert encoder_reads(EncoderChoice("/models/mine", "named"), [CHINESE]) is None


def test_the_worker_writes_the_flag_beside_each_prediction():
    from pipeline.worker_job import Scored, _prediction_table, _readable_by_id

    pool = [{"id": "zh", "text": CHINESE}, {"id": "en", "text": ENGLISH_WITH_EMOJI}]
    scored = Scored(ids=["zh", "en"], rows=[{"id": "zh", "intents": ["lost_card"]}, {"id": "en", "intents": []}],
                    embeddings=None)
    table = _prediction_table(scored, _readable_by_id(EncoderChoice(None, "auto"), pool, scored))
    assert table.to_pydict()["encoder_reads"] == [False, True]
    named = _prediction_table(scored, _readable_by_id(EncoderChoice("/models/mine", "named"), pool, scored))
    assert named.to_pydict()["encoder_reads"] == [None, None]


# -- store -------------------------------------------------------------------------------------------------
INTENTS = ["greet", "refund", "track"]


@pytest.fixture
def labelled(db, tmp_path):
    """Nine turns with gold intents (three labelled greet, three refund, three track)."""
    path = tmp_path / "turns.jsonl"
    path.write_text("".join(json.dumps({"id": f"t{i}", "conversation_id": f"c{i}", "text": f"turn {i}",
                                        "intents": [INTENTS[i % 3]]}) + "\n" for i in range(9)), encoding="utf-8")
    assert importer.import_files(db, [path], labels="gold").ok
    return db


def _publish(jobs, run_id: str, reads: list | None) -> None:
    """A result folder in the worker's format; ``reads=None``: an older worker's, without ``encoder_reads``."""
    ids = [f"t{i}" for i in range(9)]
    columns = {"turn_id": ids, "intents": [["refund"]] * 9,
               "intent_probs": [json.dumps({"refund": 0.9, "greet": 0.05, "track": 0.05})] * 9,
               "entities": [[]] * 9, "entity_scores": [[]] * 9, "sentiment": [None] * 9, "sentiment_probs": ["{}"] * 9,
               "alignment_score": [None] * 9, "misalignment_prob": [None] * 9, "uncertainty": [0.1] * 9}
    table = (pa.table(columns, schema=jf.PREDICTIONS_SCHEMA) if reads is None
             else pa.table({**columns, "encoder_reads": reads}, schema=jf.PREDICTIONS_WRITE_SCHEMA))
    tmp = jf.results_tmp_dir(jobs, run_id, "test-1")
    tmp.mkdir(parents=True)
    jf.write_json_atomic(tmp / jf.SPEC, {"run_id": run_id, "project": "default", "kind": "fast"})
    pq.write_table(table, tmp / jf.PREDICTIONS_FILE)
    pq.write_table(jf.RANKING_SCHEMA.empty_table(), tmp / jf.RANKING_FILE)
    jf.write_json_atomic(tmp / jf.METRICS_FILE, {})
    jf.write_json_atomic(tmp / jf.RESULT, {"run_id": run_id, "status": "done", "timings": {}})
    assert jf.publish_results(tmp, jobs, run_id)


def test_the_flag_survives_ingest_and_runs_without_it_still_list(labelled, tmp_path):
    jobs = tmp_path / "jobs"
    old, new = "20240101T000000000000-fast-aaaaaa", "20240102T000000000000-fast-bbbbbb"
    _publish(jobs, old, None)
    _publish(jobs, new, [i != 0 for i in range(9)])          # t0 (labelled greet) is unreadable
    assert runs.ingest_results(labelled, jobs) == [old, new]
    stored = dict(labelled.query("SELECT turn_id, encoder_reads FROM predictions WHERE run_id = ?", [new]))
    assert stored["t0"] is False and stored["t3"] is True
    rows = analysis.label_error_candidates(labelled, run_id=new)
    assert dict(zip(rows["turn_id"], rows["encoder_reads"])) == {f"t{i}": i != 0 for i in (0, 2, 3, 5, 6, 8)}
    old_rows = analysis.label_error_candidates(labelled, run_id=old)
    assert sorted(old_rows["turn_id"]) == ["t0", "t2", "t3", "t5", "t6", "t8"]
    assert old_rows["encoder_reads"].isna().all()            # not checked: nothing hidden


def test_the_limit_counts_unreadable_turns_apart(labelled, tmp_path):
    """Unreadable turns ranked first do not push the readable ones out of a limited list."""
    jobs = tmp_path / "jobs"
    _publish(jobs, "20240102T000000000000-fast-bbbbbb", [i not in (0, 3) for i in range(9)])
    runs.ingest_results(labelled, jobs)
    rows = analysis.label_error_candidates(labelled, limit=2)
    assert sorted(rows["encoder_reads"].tolist()) == [False, False, True, True]


# -- page ----------------------------------------------------------------------------------------------------
def test_the_label_errors_page_hides_unreadable_turns_and_shows_them_on_request(app_db):
    app_db.write(lambda con: con.execute("UPDATE predictions SET encoder_reads = (turn_id <> 'x2') "
                                         "WHERE run_id = 'run-a'"))
    at = page_as("label_errors", "ana")
    frame = at.dataframe[0].value
    assert "x2" not in set(frame["turn_id"]) and "x7" in set(frame["turn_id"])
    assert set(frame["encoder reads it"]) == {"yes"}
    assert ("1 turn(s) the encoder cannot read (mostly [UNK]) are hidden: their suggestions are unreliable; "
            "concord serve --encoder multilingual reads them") in texts(at)
    at.checkbox(key="errors_run_intent_unreadable").check().run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert {"x2", "x7"} <= set(frame["turn_id"])
    assert frame.set_index("turn_id").loc["x2", "encoder reads it"] == "no (mostly [UNK])"
    assert "are hidden" not in texts(at)


def test_a_run_without_the_flag_hides_nothing(app_db):
    at = page_as("label_errors", "ana")
    frame = at.dataframe[0].value
    assert {"x2", "x7"} <= set(frame["turn_id"]) and set(frame["encoder reads it"]) == {"not checked"}
    assert "are hidden" not in texts(at) and not at.checkbox
