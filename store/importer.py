"""Import turn files into the store: all or nothing, in one transaction, never doubled.

Reading and validating happen in full before anything is written; the write itself is one
transaction that also checks against what the database already holds. Any problem anywhere means
nothing changes, and the report names file, line and field for each problem.

Re-importing is how corrected labels come back (fixed offline, as Prodigy and Label Studio users
do): a record of a turn the database has (same id and content, or no id and the same content)
whose labels differ from the turn's current ones adds a new label version from this import to that
turn, in the same transaction, instead of being skipped; see ``_split_relabels`` for what
"current" means and what happens to turns annotators have labelled since.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from store.db import register_table

from store import labels as label_schema
from store.readers import ReadResult, read_files
from store.import_batch import MAX_PROBLEMS_SHOWN, drop_batch_duplicates, in_line_order, note_duplicate
from store.import_corrections import note_changed_corrections, store_corrections
from store.import_schema import check_labels_against_schema
from store.message_text import quoted
from store.records import UNSPACED_SCRIPT, WORD_CHAR, Problem, has_labels

LABEL_ROLES = {"gold": "gold", "suggestions": "suggestion", "ignore": "ignored"}
MAX_SPANS_LISTED = 5


@dataclass
class ImportReport:
    import_id: str
    files: list[str]
    n_read: int = 0
    n_turns: int = 0
    n_duplicates: int = 0
    n_relabelled: int = 0                  # existing turns this import gave a new label version
    n_relabelled_held: int = 0             # ... of which annotators' or a reviewer's labels still decide
    relabelled: list[str] = field(default_factory=list)   # "file:line: turn 'id'" for the first few
    duplicates: list[str] = field(default_factory=list)   # "file:line: why" for the first few
    problems: list[Problem] = field(default_factory=list)
    new_labels: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self, *, max_problems: int = MAX_PROBLEMS_SHOWN) -> str:
        if not self.ok:
            lines = [str(p) for p in self.problems[:max_problems]]
            rest = len(self.problems) - max_problems
            if rest > 0:
                lines.append(f"... and {rest} more problem(s)")
            lines.append(f"nothing was imported ({len(self.problems)} problem(s) in {len(self.files)} file(s))")
            return "\n".join(lines)
        text = f"imported {self.n_turns} turn(s) from {len(self.files)} file(s)"
        if self.n_relabelled:
            text += f"; updated labels on {self.n_relabelled} existing turn(s)"
        if self.n_duplicates or self.n_relabelled:
            text += f"; {self.n_duplicates} duplicate(s) skipped"
        if self.n_relabelled_held:
            text += (f"\n{self.n_relabelled_held} of the updated turn(s) have labels from annotators or a reviewer, "
                     "which still take precedence over imported labels: those turns read as before "
                     "(adjudicate them to change that)")
        return text


class ImportRejected(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def import_files(db, paths, *, project: str = "default", fmt: str = "auto", labels: str = "gold",
                 strict_schema: bool | str = False, imported_by: str | None = None) -> ImportReport:
    """Read, validate and import ``paths`` into ``project``. Returns a report; check ``report.ok``.

    ``strict_schema``: False adds unknown labels to the schema except likely typos of known ones,
    True refuses every unknown label, "extend" adds them all. The batch and database checks run over the
    records that were read even when other lines had problems, so one run reports every problem (in line
    order); ``_write_import`` then refuses before writing anything."""
    if labels not in LABEL_ROLES:
        raise ValueError(f"labels must be one of {sorted(LABEL_ROLES)}, got {labels!r}")
    paths = [str(p) for p in paths]
    report = ImportReport(import_id=f"imp-{uuid.uuid4().hex[:12]}", files=paths)
    result = _read(paths, fmt)
    report.warnings.extend(result.warnings)
    if labels != "ignore":
        report.warnings.extend(_span_warnings(result))
    report.n_read = len(result.records)
    report.problems.extend(result.problems)
    fresh, origins = drop_batch_duplicates(result.records, result.origins, report)
    try:
        db.write(_write_import, fresh, origins, project, LABEL_ROLES[labels], strict_schema, imported_by, report)
    except ImportRejected:
        report.n_turns = 0  # the problems found inside the transaction are already in the report
    report.problems = in_line_order(report.problems, paths)
    return report


def _read(paths: list[str], fmt: str) -> ReadResult:
    if fmt in ("auto", "jsonl", "csv", "parquet"):
        return read_files(paths, fmt=fmt)
    from store.formats import READERS  # other tools' formats (Label Studio, doccano, Rasa, CoNLL, HF)

    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r}; expected auto, jsonl, csv, parquet or one of {sorted(READERS)}")
    merged = ReadResult()
    for path in paths:
        part = READERS[fmt](Path(path))
        merged.records += part.records
        merged.origins += part.origins
        merged.problems += part.problems
        merged.trimmed_spans += part.trimmed_spans
        merged.warnings += [str(w) for w in getattr(part, "warnings", [])]
    return merged


def _span_warnings(result: ReadResult) -> list[str]:
    """One warning per kind of entity span worth a look, naming the first few by file:line: spans that start
    or end inside a word ("Chengd" of "Chengdu": legal, and imported, but usually a slip of the mouse or an
    offset off by one), and spans imported without the whitespace at their edges (" 4", "people "), as the
    span selector stores an annotator's selection (``store.records.normalize_turn`` trims them)."""
    inside = [f"{origin[0]}:{origin[1]}: {span['label']} [{span['start']}, {span['end']}) "
              f"{quoted(record['text'][span['start']:span['end']])}"
              for record, origin in zip(result.records, result.origins)
              for span in record["entities"] if span_inside_words(record["text"], span)]
    trimmed = [f"{t['file']}:{t['line']}: {t['field']}: {t['label']} [{t['start']}, {t['end']}) {quoted(t['text'])} "
               f"imported as [{t['kept'][0]}, {t['kept'][1]})" for t in result.trimmed_spans]
    return (_listed_spans(inside, "start or end inside a word (imported as they are; check them)")
            + _listed_spans(trimmed, "had whitespace at an edge, which was trimmed"))


def _listed_spans(found: list[str], what: str) -> list[str]:
    if not found:
        return []
    more = f"; and {len(found) - MAX_SPANS_LISTED} more" if len(found) > MAX_SPANS_LISTED else ""
    return [f"{len(found)} entity span(s) {what}: " + "; ".join(found[:MAX_SPANS_LISTED]) + more]


def edge_inside_word(text: str, offset: int) -> bool:
    """Whether ``offset`` falls between two letters (or digits) of one space-delimited word.

    "Chengd" of "Chengdu" is a legal span but usually a slip of the mouse; an edge next to a character of a
    script written without spaces (Chinese, Japanese, Thai...) is never judged: 成都 in 去成都旅游 is a word."""
    if offset <= 0 or offset >= len(text):
        return False
    before, after = text[offset - 1], text[offset]
    return bool(WORD_CHAR.match(before) and WORD_CHAR.match(after)
                and not UNSPACED_SCRIPT.match(before) and not UNSPACED_SCRIPT.match(after))


def span_inside_words(text: str, span: dict) -> bool:
    """Whether the span starts or ends in the middle of a word (``edge_inside_word``)."""
    return edge_inside_word(text, span["start"]) or edge_inside_word(text, span["end"])


def _write_import(con, records, origins, project, role, strict_schema, imported_by, report) -> None:
    """The whole import as one transaction (runs on the writer thread)."""
    label_schema.ensure_project(con, project)
    records, origins, relabels = _drop_existing(con, records, origins, project, role, report)
    relabel_records = [record for record, _ in relabels]
    check_labels_against_schema(con, project, records + relabel_records,
                                 origins + [origin for _, origin in relabels], role, strict_schema, report)
    if report.problems:
        raise ImportRejected(list(report.problems))
    start_seq = con.execute("SELECT coalesce(max(seq), 0) FROM turns").fetchone()[0]
    register_table(con, "incoming_turns", _turns_table(records, origins, project, report.import_id, start_seq))
    con.execute("INSERT INTO turns SELECT * FROM incoming_turns")
    con.unregister("incoming_turns")
    _supersede(con, [record["id"] for record in relabel_records], role)
    labelled = [r for r in records if has_labels(r)] + relabel_records
    if labelled:
        register_table(con, "incoming_labels", _labels_table(labelled, report.import_id, role))
        con.execute("INSERT INTO imported_labels SELECT * FROM incoming_labels")
        con.unregister("incoming_labels")
    store_corrections(con, records, origins, project, role, report.import_id, imported_by, report)
    con.execute(
        "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, current_timestamp)",
        [report.import_id, project, report.files, role, len(records), report.n_duplicates, imported_by],
    )
    report.n_turns = len(records)


def _drop_existing(con, records, origins, project, role, report):
    """Skip turns the database already has (re-import is idempotent) unless they bring new labels.

    Returns the new turns, their origins and ``(record, origin)`` pairs whose labels update an
    existing turn (``record["id"]`` is then that turn's id). A reused id with new content is an error;
    a record with its own id and the content of another turn is a duplicate naming that turn.
    """
    if not records:
        return records, origins, []
    by_id, by_hash = _existing_turns(con, records)
    keep, keep_origins, matched = [], [], []
    for record, origin in zip(records, origins):
        where = f"{origin[0]}:{origin[1]}"
        stored = by_id.get(record["id"])
        same_content = by_hash.get(record["_hash"])
        if stored is not None and stored[0] != record["_hash"]:
            report.problems.append(Problem(origin[0], origin[1], "id",
                                           f"id {quoted(record['id'])} is already in the database with other content"))
        elif stored is not None:
            matched.append((record, origin, stored[1]))
        elif same_content is not None and record["_minted_id"]:
            record["id"] = same_content[0]
            matched.append((record, origin, same_content[1]))
        elif same_content is not None:
            ignored = "; its labels were not applied" if has_labels(record) else ""
            note_duplicate(report, f"{where}: same content as turn {quoted(same_content[0])} "
                                    f"(this record's id {quoted(record['id'])} differs){ignored}")
        else:
            keep.append(record)
            keep_origins.append(origin)
    note_changed_corrections(con, [(r, o) for r, o, turn_project in matched if turn_project == project], report)
    return keep, keep_origins, _split_relabels(con, matched, project, role, report)


def _existing_turns(con, records):
    """The stored turns the batch's ids and hashes point at: id -> (hash, project), hash -> (id, project)."""
    probe = pa.table({"turn_id": [r["id"] for r in records], "h": [r["_hash"] for r in records]})
    register_table(con, "probe", probe)
    by_id = {row[0]: (row[1], row[2]) for row in con.execute(
        "SELECT t.turn_id, t.content_hash, t.project FROM turns t JOIN probe p USING (turn_id)").fetchall()}
    by_hash: dict[str, tuple[str, str]] = {}
    for digest, turn_id, turn_project in con.execute(
            "SELECT DISTINCT t.content_hash, t.turn_id, t.project FROM turns t JOIN probe p ON t.content_hash = p.h "
            "ORDER BY t.turn_id").fetchall():
        by_hash.setdefault(digest, (turn_id, turn_project))   # the first id when several share the content
    con.unregister("probe")
    return by_id, by_hash


def _split_relabels(con, matched, project, role, report):
    """Which records of existing turns bring labels the turn does not have yet.

    A record's labels are already current (a duplicate, skipped as before) when they equal what the
    turn reads as now (its effective label: adjudicated > annotators > imported gold, as in
    ``store.effective``, by today's label names) or the latest labels an import of this role gave it.
    The second rule keeps re-importing one file idempotent on turns annotators have relabelled.
    Otherwise the labels become a new version of this role (the older one is superseded, see
    ``_supersede``). ``store.effective``'s precedence is kept: imported gold never overrides an
    annotator's or a reviewer's label, so such turns read as before; the report counts them
    (``n_relabelled_held``) so nobody believes the correction took effect there.
    """
    renames = {kind: label_schema.rename_map_con(con, project, kind) for kind in label_schema.KINDS}
    comparable = [record["id"] for record, _, turn_project in matched
                  if _may_relabel(record, turn_project, project, role)]
    current = _current_label_keys(con, comparable, project, role, renames)
    relabels = []
    for record, origin, turn_project in matched:
        where = f"{origin[0]}:{origin[1]}"
        known = current.get(record["id"], {"keys": set(), "source": None})
        if not _may_relabel(record, turn_project, project, role):
            elsewhere = (f" (turn {quoted(record['id'])} of project {quoted(turn_project)})"
                         if turn_project != project else "")
            note_duplicate(report, f"{where}: already in the database{elsewhere}")
        elif _label_key(record, renames) in known["keys"]:
            note_duplicate(report, f"{where}: already in the database with these labels")
        else:
            relabels.append((record, origin))
            _note_relabel(report, f"{where}: turn {quoted(record['id'])}", known["source"])
    return relabels


def _may_relabel(record, turn_project, project, role) -> bool:
    """Only labels this import keeps (not --labels ignore) can update a turn, and only in its own project."""
    return turn_project == project and role != "ignored" and has_labels(record)


def _note_relabel(report: ImportReport, what: str, source: str | None) -> None:
    held = source in ("adjudicated", "human")
    report.n_relabelled += 1
    report.n_relabelled_held += held
    if len(report.relabelled) < MAX_PROBLEMS_SHOWN:
        report.relabelled.append(what + (f" (its {source} labels still decide what it reads as)" if held else ""))


def _current_label_keys(con, turn_ids, project, role, renames):
    """turn_id -> {"keys": label keys the turn already has, "source": where its effective label comes from}."""
    if not turn_ids:
        return {}
    from store.current import current_labels_sql

    effective = con.execute(f"WITH {current_labels_sql(only_ids=True)} "
                            "SELECT turn_id, intents, entities, sentiment, aligned, source FROM cur",
                            {"p": project, "ids": turn_ids}).fetchall()
    imported = con.execute(
        "SELECT l.turn_id, l.intents, l.entities, l.sentiment, l.aligned, NULL FROM imported_labels l "
        "JOIN imports i USING (import_id) WHERE l.role = $role AND l.turn_id IN (SELECT unnest($ids)) "
        "QUALIFY row_number() OVER (PARTITION BY l.turn_id ORDER BY i.imported_at DESC) = 1",
        {"role": role, "ids": turn_ids}).fetchall()
    out: dict[str, dict] = {}
    for turn_id, intents, entities, sentiment, aligned, source in effective + imported:
        entry = out.setdefault(turn_id, {"keys": set(), "source": None})
        entry["keys"].add(_label_key({"intents": intents, "entities": entities, "sentiment": sentiment,
                                      "aligned": aligned}, renames))
        entry["source"] = entry["source"] or source
    return out


def _label_key(labels: dict, renames: dict) -> tuple:
    """Labels in a comparable form: by today's names, intents and spans as sets."""
    def name(kind, value):
        return renames[kind].get(value, value)

    return (tuple(sorted({name("intent", i) for i in labels.get("intents") or []})),
            tuple(sorted((int(s["start"]), int(s["end"]), name("entity", s["label"])) for s in labels.get("entities") or [])),
            name("sentiment", labels["sentiment"]) if labels.get("sentiment") else None,
            None if labels.get("aligned") is None else bool(labels["aligned"]))


def _supersede(con, turn_ids, role) -> None:
    """Mark the earlier label versions of ``role`` of these turns '<role>-superseded'.

    The rows stay (the history of what each import said is kept); every reader of imported labels
    keeps finding at most one row per turn and role, which it relies on, and it is the newest.
    """
    if not turn_ids:
        return
    con.execute("UPDATE imported_labels SET role = $old WHERE role = $role AND turn_id IN (SELECT unnest($ids))",
                {"old": f"{role}-superseded", "role": role, "ids": turn_ids})


def _turns_table(records, origins, project, import_id, start_seq) -> pa.Table:
    return pa.table({
        "turn_id": [r["id"] for r in records],
        "project": [project] * len(records),
        "conversation_id": [r["conversation_id"] for r in records],
        "turn_index": pa.array([r["turn_index"] for r in records], pa.int32()),
        "context": pa.array([r["context"] for r in records],
                            pa.list_(pa.struct([("speaker", pa.string()), ("text", pa.string())]))),
        "text": [r["text"] for r in records],
        "response": pa.array([r["response"] for r in records], pa.string()),
        "meta": [json.dumps(r["meta"], ensure_ascii=False, sort_keys=True) for r in records],
        "content_hash": [r["_hash"] for r in records],
        "import_id": [import_id] * len(records),
        "source": [f"{o[0]}:{o[1]}" for o in origins],
        "seq": pa.array(range(start_seq + 1, start_seq + 1 + len(records)), pa.int64()),
    })


SPAN_TYPE = pa.list_(pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string())]))


def _labels_table(records, import_id, role) -> pa.Table:
    return pa.table({
        "turn_id": [r["id"] for r in records],
        "import_id": [import_id] * len(records),
        "role": [role] * len(records),
        "intents": pa.array([r["intents"] for r in records], pa.list_(pa.string())),
        "entities": pa.array([r["entities"] for r in records], SPAN_TYPE),
        "sentiment": pa.array([r["sentiment"] for r in records], pa.string()),
        "aligned": pa.array([r["aligned"] for r in records], pa.bool_()),
    })

