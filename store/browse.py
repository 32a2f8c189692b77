"""The Browse page's read: the turns of a project that match a search and filters, one page at a time.

Why a query of its own: an analyst looking for "every turn that mentions a refund", "the disputed
ones", or "what bob labelled" had no way to find them. Filtering and paging happen in DuckDB (LIMIT /
OFFSET over the matching rows, ordered by turn id so a page holds the same turns from rerun to rerun),
so a page costs the same at 100k turns as at 100. The definitions are the existing ones, not new ones:
the current label is ``store.current``'s ``cur`` (an adjudication, else the annotators' vote, else
imported gold), "disputed" is the adjudication queue's open disagreement (``store.agreement``), and an
annotator's turns are those with their latest live submit (``latest``). Both are the cached Arrow tables
the other analyst views read, registered on a read cursor (``store.current.query_over``).

The search text is the user's: it is a bound parameter, and its LIKE wildcards (``%``, ``_``) and the
escape character itself are escaped, so "50%" finds "50%" and not "500".
"""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from store.agreement import DISAGREEMENTS, LAST_ADJUDICATION, latest_table
from store.current import current_corrections, current_labels, current_table, query_over
from store.labels import rename_map
from store.records import LABEL_FIELDS

PAGE_SIZE = 50
STATUSES = ("any", "unlabelled", "labelled", "disputed")
COLUMNS = ["turn_id", "text", "response", "intents", "entities", "sentiment", "aligned", "annotators", "labelled_at",
           "source"]
LIKE_ESCAPE = "\\"

MATCHING = f"""WITH
    disputed AS (SELECT d.turn_id FROM ({DISAGREEMENTS}) d LEFT JOIN ({LAST_ADJUDICATION}) a USING (turn_id)
                 WHERE a.seq IS NULL OR a.seq < d.seq),
    matching AS (SELECT t.turn_id, t.text, t.response, c.intents, c.entities, c.sentiment, c.aligned,
                        c.labelled_at, c.source
                 FROM turns t LEFT JOIN cur c USING (turn_id) WHERE t.project = $p {{conditions}})"""

# Each filter is a fixed SQL fragment; only its parameters carry what the analyst typed or chose.
SEARCH_TEXT = f"AND t.text ILIKE $pattern ESCAPE '{LIKE_ESCAPE}'"
SEARCH_BOTH = (f"AND (t.text ILIKE $pattern ESCAPE '{LIKE_ESCAPE}' "
               f"OR coalesce(t.response, '') ILIKE $pattern ESCAPE '{LIKE_ESCAPE}')")
WITH_INTENT = "AND list_has_any(c.intents, $intents)"
BY_ANNOTATOR = "AND t.turn_id IN (SELECT turn_id FROM latest WHERE annotator = $annotator)"
BY_STATUS = {"any": "", "unlabelled": "AND c.turn_id IS NULL", "labelled": "AND c.turn_id IS NOT NULL",
             "disputed": "AND t.turn_id IN (SELECT turn_id FROM disputed)"}


class BrowsePage(NamedTuple):
    """One page of matching turns (``COLUMNS``) and how many turns match in all."""

    rows: pd.DataFrame
    total: int


def like_pattern(search: str) -> str:
    """``search`` as an ILIKE pattern matching it as a substring: its wildcards and the escape character
    are escaped, so they match themselves."""
    escaped = search.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")
    return "%" + escaped.replace("_", LIKE_ESCAPE + "_") + "%"


def stored_intent_names(db, project: str, intents) -> list[str]:
    """The names the chosen (today's) intents may be stored under: themselves and every name renamed or
    merged into them, since ``cur`` holds labels as they were written."""
    chosen = set(intents)
    return sorted(chosen | {old for old, new in rename_map(db, project, "intent").items() if new in chosen})


def _filters(db, project: str, *, search: str, in_response: bool, intents, status: str,
             annotator: str | None) -> tuple[str, dict]:
    """The WHERE fragments and their parameters for the chosen filters (unset ones add nothing)."""
    if status not in BY_STATUS:
        raise ValueError(f"browse_turns: status must be one of {', '.join(STATUSES)}, not {status!r}")
    conditions, params = [BY_STATUS[status]], {}
    if search:
        conditions.append(SEARCH_BOTH if in_response else SEARCH_TEXT)
        params["pattern"] = like_pattern(search)
    if intents:
        conditions.append(WITH_INTENT)
        params["intents"] = stored_intent_names(db, project, intents)
    if annotator:
        conditions.append(BY_ANNOTATOR)
        params["annotator"] = annotator
    return " ".join(c for c in conditions if c), params


def _named_spans(spans, names: dict) -> list[dict]:
    """A turn's stored spans as ``{label, start, end}`` dicts, labels under today's names, in text order."""
    spans = spans if pd.api.types.is_list_like(spans) else []
    return sorted(({"label": names.get(s["label"], s["label"]), "start": int(s["start"]), "end": int(s["end"])}
                   for s in spans), key=lambda s: (s["start"], s["end"], s["label"]))


def _named(db, project: str, rows: pd.DataFrame) -> pd.DataFrame:
    """A page's labels under today's names (renames and merges), as every analyst view shows them."""
    intents, sentiments = rename_map(db, project, "intent"), rename_map(db, project, "sentiment")
    entities = rename_map(db, project, "entity")
    rows["intents"] = rows["intents"].map(
        lambda xs: list(dict.fromkeys(intents.get(x, x) for x in xs)) if pd.api.types.is_list_like(xs) else [])
    rows["entities"] = rows["entities"].map(lambda xs: _named_spans(xs, entities))
    rows["aligned"] = rows["aligned"].map(lambda a: None if a is None or pd.isna(a) else bool(a)).astype(object)
    rows["sentiment"] = rows["sentiment"].map(lambda s: sentiments.get(s, s) if isinstance(s, str) else None)
    rows["annotators"] = rows["annotators"].map(lambda xs: list(xs) if pd.api.types.is_list_like(xs) else [])
    return rows


def browse_turns(db, project: str = "default", *, search: str = "", in_response: bool = False, intents=(),
                 status: str = "any", annotator: str | None = None, page: int = 1,
                 page_size: int = PAGE_SIZE) -> BrowsePage:
    """Page ``page`` (from 1) of the turns matching every filter, ordered by turn id, and the match count.

    ``search``: case-insensitive substring of the text (and of the response with ``in_response``);
    ``intents``: the current label has any of them; ``status``: one of ``STATUSES``; ``annotator``: has
    a live submit by them. ``annotators`` lists who submitted each turn (an adjudicator is not listed)."""
    conditions, params = _filters(db, project, search=search, in_response=in_response, intents=intents,
                                  status=status, annotator=annotator)
    tables = {"cur": current_table(db, project), "latest": latest_table(db, project)}
    head, params = MATCHING.format(conditions=conditions), {"p": project, **params}
    total = int(query_over(db, f"{head} SELECT count(*) AS n FROM matching", params, tables)["n"].iloc[0])
    rows = query_over(db, f"""{head},
        shown AS (SELECT * FROM matching ORDER BY turn_id LIMIT $limit OFFSET $offset),
        submitters AS (SELECT turn_id, list(annotator ORDER BY annotator) AS annotators FROM latest
                       WHERE turn_id IN (SELECT turn_id FROM shown) GROUP BY turn_id)
        SELECT m.*, coalesce(s.annotators, []) AS annotators FROM shown m LEFT JOIN submitters s USING (turn_id)
        ORDER BY m.turn_id""", {**params, "limit": page_size, "offset": (max(1, page) - 1) * page_size}, tables)
    return BrowsePage(_named(db, project, rows).reindex(columns=COLUMNS), total)


# ----------------------------------------------------------------------------- bulk actions
BULK_ACTIONS = ("set_intent", "confirm")
INTENT_MODES = ("replace", "add")       # the set intent replaces all of a turn's intents, or joins them


class BulkPlan(NamedTuple):
    """What a bulk action does to the ticked turns: ``changes`` (turn id -> the labels to store as its gold
    label), ``unchanged`` (they already have it: the intent, or an adjudicated label to confirm) and
    ``unlabelled`` (no current label to change or confirm: skipped)."""

    changes: dict
    unchanged: list
    unlabelled: list


def _labels_after(current: dict, action: str, intent: str | None, mode: str) -> dict | None:
    """A turn's labels after the action, or None when it already has them. Only intents change; entities,
    sentiment and response fit are kept as they are (a confirm keeps everything)."""
    labels = {field: current.get(field) for field in LABEL_FIELDS}
    intents = list(labels["intents"] or [])
    if action == "confirm":
        return None if current.get("source") == "adjudicated" else labels
    after = [intent] if mode == "replace" else list(dict.fromkeys([*intents, intent]))
    return None if after == intents else {**labels, "intents": after}


def plan_bulk(db, project: str, turn_ids, *, action: str, intent: str | None = None,
              mode: str = "replace") -> BulkPlan:
    """The Browse page's bulk action over ``turn_ids``, read from their current labels (today's intent
    names, as ``store.current.current_labels`` gives them): ``set_intent`` writes ``intent`` (``mode``:
    ``INTENT_MODES``), ``confirm`` makes the current labels the adjudicated gold label."""
    if action not in BULK_ACTIONS or mode not in INTENT_MODES:
        raise ValueError(f"plan_bulk: action must be one of {BULK_ACTIONS} and mode one of {INTENT_MODES}")
    if action == "set_intent" and not intent:
        raise ValueError("plan_bulk: set_intent needs an intent")
    ids = list(dict.fromkeys(turn_ids))
    current, corrections = current_labels(db, project, ids), current_corrections(db, ids)
    changes, unchanged = {}, []
    for turn_id in (t for t in ids if t in current):
        after = _labels_after(current[turn_id], action, intent, mode)
        if after is None:
            unchanged.append(turn_id)
        else:           # the corrected response is no label: the gold label written keeps it
            changes[turn_id] = {**after, "corrected_response": corrections.get(turn_id)}
    return BulkPlan(changes, unchanged, [t for t in ids if t not in current])
