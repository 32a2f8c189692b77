"""The checks an import makes across the records of its batch, and the order its problems are reported in.

Split from ``store.importer`` so the batch rules sit together. They run over every record that was read,
even when other lines of the file had problems: a user fixing a file wants every problem in one run (a
reused id on line 5 used to show only once the bad span on line 4 was fixed), and nothing is imported
while any remains, so checking the valid records early changes nothing else.
"""
from __future__ import annotations

from pathlib import Path

from store.message_text import quoted
from store.records import Problem, content_hash

MAX_PROBLEMS_SHOWN = 20


def drop_batch_duplicates(records: list[dict], record_origins: list[tuple], report):
    """Mint missing ids, skip repeats within the batch; the same id with other content is an error.

    Only records that passed their own line's checks are here (a line with an invalid id gave none), so an
    id reused with other content is reported once, on the later line, naming where it was first used."""
    seen_ids: dict[str, tuple[str, tuple]] = {}
    seen_hashes: dict[str, tuple] = {}
    fresh, origins = [], []
    for record, origin in zip(records, record_origins):
        digest = content_hash(record)
        record["_minted_id"] = not record["id"]   # an id-less record may match a turn by content alone
        record["id"] = record["id"] or f"t-{digest[:16]}"
        record["conversation_id"] = record["conversation_id"] or record["id"]
        where = f"{origin[0]}:{origin[1]}"
        if record["id"] in seen_ids:
            first_hash, first = seen_ids[record["id"]]
            if first_hash != digest:
                report.problems.append(Problem(origin[0], origin[1], "id",
                                               f"id {quoted(record['id'])} is used again with other content (first at {first[0]}:{first[1]})"))
            else:
                note_duplicate(report, f"{where}: same id as {first[0]}:{first[1]}")
            continue
        if digest in seen_hashes:
            first = seen_hashes[digest]
            note_duplicate(report, f"{where}: same content as {first[0]}:{first[1]}")
            continue
        seen_ids[record["id"]] = (digest, origin)
        seen_hashes[digest] = origin
        record["_hash"] = digest
        fresh.append(record)
        origins.append(origin)
    return fresh, origins


def note_duplicate(report, why: str) -> None:
    report.n_duplicates += 1
    if len(report.duplicates) < MAX_PROBLEMS_SHOWN:
        report.duplicates.append(why)


def in_line_order(problems: list[Problem], paths: list[str]) -> list[Problem]:
    """``problems`` by file (in the order given), then line; problems of one line keep the order found.

    The checks run in stages (each line, then the batch, then against the database), so their problems
    arrive grouped by stage; a user reads the report beside the file, top to bottom. A reader may name a
    file as ``Path`` spells it ("a.json" for "./a.json"): such names rank with their path, or else by
    first appearance after the paths given."""
    rank: dict[str, int] = {}
    for path in paths:
        rank.setdefault(path, len(rank))
        rank.setdefault(str(Path(path)), rank[path])
    for problem in problems:
        rank.setdefault(problem.file, len(rank))
    return sorted(problems, key=lambda p: (rank[p.file], p.line))
