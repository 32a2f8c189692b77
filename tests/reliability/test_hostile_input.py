"""Hostile input: malformed files and a Hypothesis fuzz of the importers. Each file is rejected or
accepted with a report, never partially, never with a traceback."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import Store, importer

# More classes than tests/test_import.py's, aimed at what breaks parsers and databases.
HOSTILE = {
    "lone_surrogate": (".jsonl", b'{"text": "a \\ud800 b"}\n'),
    "lone_surrogate_in_label": (".jsonl", b'{"text": "ab", "intents": ["\\udfff"]}\n'),
    "nul_byte_in_text": (".jsonl", b'{"text": "a\\u0000b"}\n'),
    "deep_nesting": (".jsonl", b'{"text": "a", "meta": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}\n"),
    "huge_number": (".jsonl", b'{"text": "a", "turn_index": 1e400}\n'),
    "bool_as_offset": (".jsonl", b'{"text": "abc", "entities": [{"start": true, "end": 2, "label": "x"}]}\n'),
    "nan_literal": (".jsonl", b'{"text": "a", "turn_index": NaN}\n'),
    "array_top_level": (".jsonl", b'[{"text": "a"}]\n'),
    "string_top_level": (".jsonl", b'"just a string"\n'),
    "null_line": (".jsonl", b"null\n"),
    "meta_not_object": (".jsonl", b'{"text": "a", "meta": [1, 2]}\n'),
    "context_not_list": (".jsonl", b'{"text": "a", "context": "hello"}\n'),
    "speaker_missing": (".jsonl", b'{"text": "a", "context": [{"text": "hi"}]}\n'),
    "turns_empty": (".jsonl", b'{"conversation_id": "c", "turns": []}\n'),
    "id_is_object": (".jsonl", b'{"id": {"x": 1}, "text": "a"}\n'),
    "label_empty_string": (".jsonl", b'{"text": "a", "entities": [{"start": 0, "end": 1, "label": ""}]}\n'),
    "end_before_start": (".jsonl", b'{"text": "abc", "entities": [{"start": 2, "end": 1, "label": "x"}]}\n'),
    "zero_width_span": (".jsonl", b'{"text": "abc", "entities": [{"start": 1, "end": 1, "label": "x"}]}\n'),
    "span_past_emoji_in_utf16_units": (".jsonl", json.dumps({"text": "🙂12", "entities": [{"start": 2, "end": 4, "label": "n"}]}).encode()),
    "crlf_and_garbage_tail": (".jsonl", b'{"text": "a"}\r\n{"text": "b"}\r\n\x1a\x1a'),
    "latin1_file": (".jsonl", '{"text": "café"}\n'.encode("latin-1")),
    "csv_latin1": (".csv", "text\ncafé\n".encode("latin-1")),
    "csv_only_header": (".csv", b"text,intents\n"),
    "csv_unclosed_quote": (".csv", b'text\n"never closed\n'),
    "csv_nul_byte": (".csv", b"text\na\x00b\n"),
    "csv_entities_not_list": (".csv", b'text,entities\nabc,"{""start"": 0}"\n'),
    "parquet_empty_bytes": (".parquet", b""),
    "parquet_text_int_column": (".parquet", None),  # built in the test
    "binary_garbage": (".jsonl", bytes(range(256)) * 10),
    "truncated_conversation": (".jsonl", b'{"conversation_id": "c", "turns": [{"speaker": "user", "te'),
}


def make_file(tmp_path, name):
    suffix, data = HOSTILE[name]
    path = tmp_path / f"{name}{suffix}"
    if data is None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": [1, 2]}), path)
    else:
        path.write_bytes(data)
    return path


def counts(db):
    return db.query_one("SELECT (SELECT count(*) FROM turns), (SELECT count(*) FROM imported_labels), "
                        "(SELECT count(*) FROM imports), (SELECT count(*) FROM label_schema)")


def test_at_least_thirty_hostile_files_with_the_import_suite():
    from tests.test_import import BAD_INPUTS

    assert len(HOSTILE) + len(BAD_INPUTS) >= 50


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_rejected_or_accepted_whole(db, tmp_path, name):
    path = make_file(tmp_path, name)
    before = counts(db)
    report = importer.import_files(db, [path])  # must not raise
    after = counts(db)
    if report.ok:
        assert after[0] == before[0] + report.n_turns and after[2] == before[2] + 1
    else:
        assert after == before
        assert all(p.file == str(path) and p.message for p in report.problems)
        assert "nothing was imported" in report.summary()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
turn_like = st.fixed_dictionaries({}, optional={
    "id": json_values, "text": st.text(max_size=30) | json_values, "response": json_values,
    "intents": json_values, "sentiment": json_values, "aligned": json_values, "context": json_values,
    "turn_index": json_values, "meta": json_values,
    "entities": st.lists(st.fixed_dictionaries({"start": st.integers(-3, 40), "end": st.integers(-3, 40),
                                                "label": st.text(max_size=5)}), max_size=3) | json_values,
})


@pytest.fixture(scope="module")
def fuzz_db(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("fuzzdb") / "f.duckdb") as db:
        yield db


def import_and_check_whole(db, path):
    before = counts(db)
    report = importer.import_files(db, [path])  # must not raise
    after = counts(db)
    assert after[0] - before[0] == (report.n_turns if report.ok else 0)
    if not report.ok:
        assert after == before


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(turn_like, min_size=1, max_size=5))
def test_fuzzed_turn_files_never_crash_or_half_import(fuzz_db, tmp_path, lines):
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    import_and_check_whole(fuzz_db, path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".csv", ".parquet"]))
def test_fuzzed_bytes_never_crash(fuzz_db, tmp_path, data, suffix):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(data)
    import_and_check_whole(fuzz_db, path)
