"""Corrected responses in imported files: stored the way a reviewer's correction is, so re-import is lossless.

The native export writes ``corrected_response`` on a turn whose response a reviewer (or an annotator)
rewrote; the DPO and chat exports make their pairs from it. ``imported_labels`` holds labels only, so
the correction is stored as what it came from in Concord: an ``adjudicate`` annotation that carries
only the response fit and the corrected response. Such a fit-only adjudication decides exactly those
two (``store.effective``, ``store.current``) and leaves the turn's intents, spans and sentiment to its
imported gold labels, so ``export native -> import -> export native`` gives back the same records.

Only ``--labels gold`` stores corrections (suggestions and ignored labels do not decide a turn), and
only on turns this import adds: an existing turn whose correction differs is reported, not changed,
because a reviewer's decision is not overruled by a file (adjudicate the turn to change it).
"""
from __future__ import annotations

import pyarrow as pa

from store.current import CURRENT_CORRECTIONS, corrections_from_rows
from store.db import register_table
from store.queue import utcnow

IMPORT_REVIEWER = "import"   # the annotator name of a correction imported without --imported-by
MAX_LISTED = 5


def store_corrections(con, records, origins, project, role, import_id, imported_by, report) -> None:
    """Add a fit-only adjudication for each new turn of this import that carries a corrected response."""
    corrected = [(r, o) for r, o in zip(records, origins) if r.get("corrected_response")]
    if not corrected:
        return
    if role != "gold":
        report.warnings.append(f"{len(corrected)} corrected response(s) were not imported: only labels imported "
                               f"as gold decide a turn (first at {corrected[0][1][0]}:{corrected[0][1][1]})")
        return
    now = utcnow()
    table = pa.table({
        "annotation_id": [f"{import_id}:{r['id']}" for r, _ in corrected],
        "turn_id": [r["id"] for r, _ in corrected],
        "project": [project] * len(corrected),
        "annotator": [imported_by or IMPORT_REVIEWER] * len(corrected),
        "aligned": pa.array([r["aligned"] for r, _ in corrected], pa.bool_()),
        "corrected_response": [r["corrected_response"] for r, _ in corrected],
        "note": [f"corrected response imported from {o[0]}:{o[1]} ({import_id})" for _, o in corrected],
        "created_at": pa.array([now] * len(corrected), pa.timestamp("us")),
    })
    register_table(con, "incoming_corrections", table)
    con.execute("""INSERT INTO annotations (annotation_id, turn_id, project, annotator, action, intents, entities,
                       sentiment, aligned, corrected_response, flagged, note, created_at)
                   SELECT annotation_id, turn_id, project, annotator, 'adjudicate', []::VARCHAR[], [], NULL, aligned,
                          corrected_response, false, note, created_at FROM incoming_corrections""")
    con.unregister("incoming_corrections")


def note_changed_corrections(con, matched, report) -> None:
    """Warn about records of existing turns whose corrected response differs from the turn's current one.

    ``matched``: (record, origin) pairs of records that matched a stored turn. The current correction is
    the one ``store.effective`` exports: the latest adjudication's, else the first annotator's."""
    wanted = [(r, o) for r, o in matched if r.get("corrected_response")]
    if not wanted:
        return
    current = _current_corrections(con, [r["id"] for r, _ in wanted])
    changed = [o for r, o in wanted if current.get(r["id"]) != r["corrected_response"]]
    if changed:
        where = ", ".join(f"{f}:{line}" for f, line in changed[:MAX_LISTED])
        more = f" and {len(changed) - MAX_LISTED} more" if len(changed) > MAX_LISTED else ""
        report.warnings.append(
            f"{len(changed)} record(s) of turns already in the database bring another corrected response, "
            f"which was not applied (a re-import does not overrule a reviewer; adjudicate the turn): {where}{more}")


def _current_corrections(con, turn_ids) -> dict[str, str | None]:
    return corrections_from_rows(con.execute(CURRENT_CORRECTIONS, {"ids": list(turn_ids)}).fetchall())
