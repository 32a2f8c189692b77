"""Annotations: an append-only history of what each person did to each turn, and the labels it adds up to.

Every action is a row keyed by a client-minted ``annotation_id``: submitting the same id twice
(double click, rerun, refresh, network retry) stores it once. Undo is a row too (it names the submit
it reverts), so nothing is ever deleted and every state can be explained.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from store.queue import LIVE_LABELS, available_count, lease_turn, turn_load, utcnow
from store.queue import release as release_lease
from store.queue_order import FIT_ONLY_SQL
from store.records import describe_overlaps, overlapping_spans

ACTIONS = ("submit", "skip", "undo", "flag", "unflag", "revisit", "adjudicate")


class SubmitRefused(Exception):
    """A submit that would break the rules (e.g. the turn was reassigned and is already fully labelled)."""


class TurnTaken(SubmitRefused):
    """The submitter lost the turn to other annotators: its lease is dropped and the form should move on."""


@dataclass(frozen=True)
class SubmitOutcome:
    """What a submit did: ``stored`` False for a repeated annotation_id; ``lease_lapsed``: their hold
    had run out while they worked but nobody else had taken the turn, so the labels were kept;
    ``replaced``: they had labelled the turn already (say in another tab) and this submit replaced it."""

    stored: bool
    lease_lapsed: bool = False
    replaced: list[str] | None = None      # the intents of this annotator's earlier submit it replaced


def _exists(con, annotation_id: str):
    return con.execute("SELECT turn_id, action, undoes FROM annotations WHERE annotation_id = ?",
                       [annotation_id]).fetchone()


def _insert(con, *, annotation_id, turn_id, project, annotator, action, intents=None, entities=None,
            sentiment=None, aligned=None, corrected_response=None, flagged=False, note=None, undoes=None,
            duration_ms=None) -> None:
    con.execute(
        "INSERT INTO annotations (annotation_id, turn_id, project, annotator, action, intents, entities, sentiment,"
        " aligned, corrected_response, flagged, note, undoes, duration_ms, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [annotation_id, turn_id, project, annotator, action, intents, entities, sentiment, aligned,
         corrected_response, flagged, note, undoes, duration_ms, utcnow()],
    )


def _check_turn(con, turn_id: str, project: str) -> None:
    row = con.execute("SELECT project FROM turns WHERE turn_id = ?", [turn_id]).fetchone()
    if row is None or row[0] != project:
        raise SubmitRefused(f"turn {turn_id!r} is not in project {project!r}")


def _validate_spans(con, turn_id: str, entities, *, allow_overlaps: bool) -> list[dict]:
    """Spans inside the turn's text; overlapping ones only where allowed (annotators label in NER
    mode, one label per character, which BIO exports need; adjudications may carry nested spans
    that came with imported data)."""
    text = con.execute("SELECT text FROM turns WHERE turn_id = ?", [turn_id]).fetchone()[0]
    spans = []
    for span in entities or []:
        start, end, label = int(span["start"]), int(span["end"]), str(span["label"])
        if not 0 <= start < end <= len(text):
            raise SubmitRefused(f"span [{start}, {end}) is outside the turn's {len(text)} code points")
        spans.append({"start": start, "end": end, "label": label})
    pairs = [] if allow_overlaps else overlapping_spans(spans)
    if pairs:
        raise SubmitRefused(f"overlapping spans: {describe_overlaps(pairs)}. A character can carry one entity label: "
                            "select the text again and press the label you mean (it replaces the others).")
    return sorted(spans, key=lambda s: (s["start"], s["end"], s["label"]))


def _check_turn_is_theirs(con, a: dict, now) -> bool:
    """Refuse a submit whose turn went to others: the holder of a live lease keeps the turn, so a
    submit whose lease lapsed is refused once others hold or have labelled all the overlap's places;
    a lapsed submit nobody competes with is kept (the work is not thrown away). A reviewer's adjudication
    counts among the others, so a refusal on a turn a reviewer has settled says that, not "reassigned" or
    "other annotators" (an annotator's Edit of an adjudicated turn was refused so). True if it lapsed."""
    load = turn_load(con, a["project"], a["turn_id"], a["annotator"], now)
    overlap, others = load["overlap"], load["labelled_by_others"]
    live = load["my_lease_expires"] is not None and load["my_lease_expires"] > now
    lost_hold = not live and others + load["leased_by_others"] >= overlap
    if (lost_hold or others >= overlap) and _settled_by_review(con, a["turn_id"], a["annotator"]):
        raise TurnTaken(f"Turn {a['turn_id']!r}: a reviewer has settled this turn's label since; your labels were "
                        "not stored. Here is another turn.")
    if lost_hold:
        raise TurnTaken(f"Your hold on turn {a['turn_id']!r} lapsed and the turn was reassigned to another "
                        "annotator; your labels were not stored. Here is another turn.")
    if others >= overlap:
        raise TurnTaken(f"Turn {a['turn_id']!r} already has its {overlap} label(s) from other annotators; "
                        "your labels were not stored. Here is another turn.")
    return load["my_lease_expires"] is not None and not live


# Whether someone else adjudicated the turn of row ``s`` (turn_id, annotator): that gold label counts among
# the "other" labels that close a turn; a fit-only one (``FIT_ONLY_SQL``) labels nothing and closes nothing.
SETTLED_SQL = (f"EXISTS (SELECT 1 FROM ({LIVE_LABELS}) j WHERE j.turn_id = s.turn_id AND j.annotator <> s.annotator "
               f"AND j.action = 'adjudicate' AND NOT ({FIT_ONLY_SQL}))")   # unqualified names bind to j, the inner row


def _settled_by_review(con, turn_id: str, annotator: str) -> bool:
    return con.execute(f"SELECT {SETTLED_SQL} FROM (SELECT ? AS turn_id, ? AS annotator) s",
                       [turn_id, annotator]).fetchone()[0]


def _submit(con, a: dict, overlap_check: bool, now=None) -> SubmitOutcome:
    if _exists(con, a["annotation_id"]) is not None:
        return SubmitOutcome(stored=False)
    _check_turn(con, a["turn_id"], a["project"])
    lapsed = _check_turn_is_theirs(con, a, now or utcnow()) if overlap_check else False
    a["entities"] = _validate_spans(con, a["turn_id"], a.get("entities"), allow_overlaps=a["action"] != "submit")
    earlier = _live_submit_of(con, a["turn_id"], a["annotator"]) if a["action"] == "submit" else None
    _insert(con, **a, undoes=earlier[0] if earlier else None)
    con.execute("DELETE FROM leases WHERE turn_id = ? AND annotator = ?", [a["turn_id"], a["annotator"]])
    return SubmitOutcome(stored=True, lease_lapsed=lapsed, replaced=list(earlier[1] or []) if earlier else None)


def _live_submit_of(con, turn_id: str, annotator: str):
    """(annotation_id, intents) of this annotator's live submit of the turn, or None. A new submit
    names it in ``undoes`` so there is one live annotation per (turn, annotator): two tabs on one
    turn, or a resubmit, replace the earlier labels instead of counting as a second vote."""
    return con.execute(f"SELECT annotation_id, intents FROM ({LIVE_LABELS}) WHERE turn_id = ? AND annotator = ? "
                       "AND action = 'submit' ORDER BY seq DESC LIMIT 1", [turn_id, annotator]).fetchone()


def record_submit(db, *, annotation_id: str, turn_id: str, project: str, annotator: str, intents=(), entities=(),
                  sentiment=None, aligned=None, corrected_response=None, flagged=False, note=None,
                  duration_ms=None, now=None) -> SubmitOutcome:
    """Store one annotator's labels for a turn and say what happened. Raises ``TurnTaken`` (after
    dropping their lease, so their next claim gets a new turn) when the turn went to others."""
    row = dict(annotation_id=annotation_id, turn_id=turn_id, project=project, annotator=annotator, action="submit",
               intents=list(intents or []), entities=list(entities or []), sentiment=sentiment or None,
               aligned=aligned, corrected_response=corrected_response or None, flagged=flagged, note=note,
               duration_ms=duration_ms)
    try:
        return db.write(_submit, row, True, now)
    except TurnTaken:
        release_lease(db, turn_id, annotator)
        raise


def submit(db, **fields) -> bool:
    """``record_submit``, answering only whether a new row was stored (False: this annotation_id was
    stored before: a double click, rerun or retry)."""
    return record_submit(db, **fields).stored


def adjudicate(db, *, annotation_id: str, turn_id: str, project: str, reviewer: str, intents=(), entities=(),
               sentiment=None, aligned=None, corrected_response=None, note=None) -> bool:
    """A reviewer's resolution: it becomes the turn's gold label; the annotators' rows stay in history."""
    row = _adjudication_row(annotation_id=annotation_id, turn_id=turn_id, project=project, reviewer=reviewer,
                            intents=intents, entities=entities, sentiment=sentiment, aligned=aligned,
                            corrected_response=corrected_response, note=note)
    return db.write(_submit, row, False).stored


def _adjudication_row(*, annotation_id: str, turn_id: str, project: str, reviewer: str, intents=(), entities=(),
                      sentiment=None, aligned=None, corrected_response=None, note=None) -> dict:
    return dict(annotation_id=annotation_id, turn_id=turn_id, project=project, annotator=reviewer, action="adjudicate",
                intents=list(intents or []), entities=list(entities or []), sentiment=sentiment or None,
                aligned=aligned, corrected_response=corrected_response or None, note=note)


def _adjudicate_all(con, rows: list[dict]) -> int:
    return sum(_submit(con, row, False).stored for row in rows)


def adjudicate_many(db, resolutions: list[dict]) -> int:
    """Several ``adjudicate`` calls (each a dict of its keyword arguments) in ONE writer call, so one
    transaction: a bulk action on the Browse page stores every resolution or, when one is refused (a turn
    not in the project, a span outside its text), none -- never half a selection. Returns how many were
    stored (a repeated annotation_id, e.g. a double click, stores nothing)."""
    rows = [_adjudication_row(**r) for r in resolutions]
    return db.write(_adjudicate_all, rows) if rows else 0


def _simple_action(con, a: dict, release: bool) -> bool:
    if _exists(con, a["annotation_id"]) is not None:
        return False
    _check_turn(con, a["turn_id"], a["project"])
    _insert(con, **a)
    if release:
        con.execute("DELETE FROM leases WHERE turn_id = ? AND annotator = ?", [a["turn_id"], a["annotator"]])
    return True


def skip(db, *, annotation_id: str, turn_id: str, project: str, annotator: str) -> bool:
    """Pass on a turn: it leaves this annotator's queue and is free for others."""
    row = dict(annotation_id=annotation_id, turn_id=turn_id, project=project, annotator=annotator, action="skip")
    return db.write(_simple_action, row, True)


def flag(db, *, annotation_id: str, turn_id: str, project: str, annotator: str, note: str | None = None) -> bool:
    """Send a turn to review; the annotator keeps it and may still label it."""
    row = dict(annotation_id=annotation_id, turn_id=turn_id, project=project, annotator=annotator, action="flag",
               flagged=True, note=note)
    return db.write(_simple_action, row, False)


# This annotator's flags of a turn not taken back by an ``unflag`` row naming them, newest first:
# the flags the adjudication queue still counts (store.agreement.adjudication_queue reads them so).
STANDING_FLAGS_SQL = """
    SELECT f.annotation_id FROM annotations f WHERE f.action = 'flag' AND f.turn_id = ? AND f.annotator = ?
    AND NOT EXISTS (SELECT 1 FROM annotations r WHERE r.action = 'unflag' AND r.undoes = f.annotation_id)
    ORDER BY f.seq DESC
"""


def open_flag(db, turn_id: str, annotator: str) -> str | None:
    """The annotation id of this annotator's standing flag of the turn, or None. The page opens a turn
    flagged when there is one: the flag is stored, but the form that set it lives in the session, so
    after a reload the flag was shown as absent and could no longer be taken back."""
    row = db.query_one(f"{STANDING_FLAGS_SQL} LIMIT 1", [turn_id, annotator])
    return row[0] if row else None


def _unflag(con, a: dict) -> bool:
    standing = [r[0] for r in con.execute(STANDING_FLAGS_SQL, [a["turn_id"], a["annotator"]]).fetchall()]
    if not standing or _exists(con, a["annotation_id"]) is not None:
        return False
    _check_turn(con, a["turn_id"], a["project"])
    _insert(con, **a, undoes=standing[0])
    for n, flag_id in enumerate(standing[1:], start=1):      # flags set again after a reload lost the first
        _insert(con, **{**a, "annotation_id": f"{a['annotation_id']}:{n}"}, undoes=flag_id)
    return True


def unflag(db, *, annotation_id: str, turn_id: str, project: str, annotator: str) -> bool:
    """Take back this annotator's flag of a turn (a mis-pressed F): an ``unflag`` row naming the flag
    in ``undoes``, so the history keeps both; one per standing flag (a page that lost sight of its
    flag on reload could set a second), so after it the turn is not flagged by them. False if they
    have no standing flag there."""
    row = dict(annotation_id=annotation_id, turn_id=turn_id, project=project, annotator=annotator, action="unflag")
    return db.write(_unflag, row)


# This annotator's skips still standing: the turn's latest skip-or-revisit row is a skip.
STANDING_SKIPS_SQL = """
    SELECT turn_id FROM annotations WHERE project = ? AND annotator = ? AND action IN ('skip', 'revisit')
    GROUP BY turn_id HAVING arg_max(action, seq) = 'skip'
"""


def skipped_count(db, project: str, annotator: str) -> int:
    return db.query_one(f"SELECT count(*) FROM ({STANDING_SKIPS_SQL})", [project, annotator])[0]


def _revisit_skipped(con, project: str, annotator: str) -> int:
    skipped = [r[0] for r in con.execute(STANDING_SKIPS_SQL, [project, annotator]).fetchall()]
    for turn_id in skipped:
        _insert(con, annotation_id=f"revisit-{uuid.uuid4()}", turn_id=turn_id, project=project,
                annotator=annotator, action="revisit")
    return len(skipped)


def revisit_skipped(db, *, project: str, annotator: str) -> int:
    """Make this annotator's skipped turns theirs to claim again (a ``revisit`` row each, the skips
    stay in the history); the queue serves them once nothing new is open. Returns how many."""
    return db.write(_revisit_skipped, project, annotator)


def _undo_last(con, annotation_id: str, project: str, annotator: str, now=None):
    done = _exists(con, annotation_id)
    if done is not None:
        return done[0]
    last = con.execute(
        f"SELECT annotation_id, turn_id FROM ({LIVE_LABELS}) WHERE project = ? AND annotator = ? AND action = 'submit' "
        "ORDER BY seq DESC LIMIT 1", [project, annotator],
    ).fetchone()
    if last is None:
        return None
    _insert(con, annotation_id=annotation_id, turn_id=last[1], project=project, annotator=annotator,
            action="undo", undoes=last[0])
    lease_turn(con, project, last[1], annotator, now=now)
    return last[1]


def undo_last(db, *, annotation_id: str, project: str, annotator: str, now=None):
    """Revert this annotator's latest submit and lease that turn back to them. Returns its turn_id or None."""
    return db.write(_undo_last, annotation_id, project, annotator, now)


def has_submit_to_undo(db, project: str, annotator: str) -> bool:
    """Whether ``undo_last`` would revert something: the page offers undo only then (someone who only
    skipped was offered an undo that could only say "Nothing to undo")."""
    return db.query_one(f"SELECT count(*) FROM ({LIVE_LABELS}) WHERE project = ? AND annotator = ? "
                        "AND action = 'submit'", [project, annotator])[0] > 0


def turn_state(db, turn_id: str, *, annotator: str | None = None) -> dict | None:
    """The labels a form should show for a turn: this annotator's latest live submit, else the effective ones."""
    where, params = "turn_id = ?", [turn_id]
    if annotator is not None:
        where += " AND annotator = ?"
        params.append(annotator)
    rows = db.query_dicts(
        f"SELECT intents, entities, sentiment, aligned, corrected_response FROM ({LIVE_LABELS}) WHERE {where} "
        "ORDER BY action = 'adjudicate' DESC, seq DESC LIMIT 1", params)
    if rows:
        return _clean_state(rows[0])
    if annotator is not None:
        return None
    imported = db.query_dicts("SELECT intents, entities, sentiment, aligned FROM imported_labels "
                              "WHERE turn_id = ? AND role = 'gold' LIMIT 1", [turn_id])
    return _clean_state(imported[0]) if imported else None


def reopened_state(db, turn_id: str, *, annotator: str) -> dict | None:
    """What the form shows when this annotator's turn opens: the newer of their live label and the
    submit they last undid there. After undoing an edit the pre-edit label is live again, but the
    annotator pressed U to take back what they had just submitted, so the form shows that (as after
    undoing a first submit) for them to redo; leaving keeps the pre-edit label. Once they submit
    again, or when they Edit a label (``turn_state``), the live label is the newer one."""
    rows = db.query_dicts(
        f"SELECT seq AS rank_seq, intents, entities, sentiment, aligned, corrected_response FROM ({LIVE_LABELS}) "
        "WHERE turn_id = $turn AND annotator = $who "
        "UNION ALL SELECT u.seq AS rank_seq, s.intents, s.entities, s.sentiment, s.aligned, s.corrected_response "
        "FROM annotations u JOIN annotations s ON s.annotation_id = u.undoes AND s.action = 'submit' "
        "WHERE u.action = 'undo' AND u.turn_id = $turn AND u.annotator = $who ORDER BY rank_seq DESC LIMIT 1",
        {"turn": turn_id, "who": annotator})
    return _clean_state(rows[0]) if rows else None


def _clean_state(row: dict) -> dict:
    return {
        "intents": list(row.get("intents") or []),
        "entities": [dict(s) for s in row.get("entities") or []],
        "sentiment": row.get("sentiment"),
        "aligned": row.get("aligned"),
        "corrected_response": row.get("corrected_response"),
    }


def history(db, turn_id: str) -> list[dict]:
    return db.query_dicts("SELECT * FROM annotations WHERE turn_id = ? ORDER BY seq", [turn_id])


def largest_intent_set(db, project: str) -> int:
    """The most intents any live label of the project carries (0 without labels): a multi-label project
    (NLU++ has turns with six) sets its own ceiling for the label page's too-many-intents guard."""
    row = db.query_one(f"SELECT max(len(intents)) FROM ({LIVE_LABELS}) WHERE project = ?", [project])
    return int(row[0] or 0)


def progress(db, project: str, annotator: str | None = None) -> dict:
    """Counts for the progress panel: mine today (turns, not submits), turns left for this annotator,
    coverage, per-intent counts of the effective labels."""
    from store.effective import label_counts

    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    mine = available = 0
    if annotator is not None:
        mine = db.query_one(f"SELECT count(DISTINCT turn_id) FROM ({LIVE_LABELS}) WHERE project = ? AND annotator = ? "
                            "AND created_at >= ?", [project, annotator, today])[0]
        available = available_count(db, project, annotator)
    total = db.query_one("SELECT count(*) FROM turns WHERE project = ?", [project])[0]
    labelled, per_label = label_counts(db, project)
    return {"mine_today": mine, "available": available, "labelled": labelled, "total": total, "per_label": per_label}


def effective_labels(db, project: str = "default"):
    from store.effective import effective_labels as compute

    return compute(db, project)
