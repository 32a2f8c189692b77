"""The labels a turn has *now*: what exports, training snapshots and the analyst views read.

Precedence: an adjudicated label (a reviewer's resolution) > the human annotators' labels (the
majority when several labelled it, with the agreement and a dispute flag) > imported gold labels.
Renamed and merged labels read as today's names.

A fit-only adjudication (an analyst judged the response on the Misalignment page, but gave no intent,
span or sentiment) decides the response fit and the corrected response only: the turn's intents,
spans and sentiment still come from its annotators or imported gold, so an annotator labelling the
turn later is not hidden behind an empty adjudicated intent list.
"""
from __future__ import annotations

import json
from collections import Counter

import pandas as pd

from store.labels import rename_map
from store.queue import LIVE_LABELS
from store.queue_order import FIT_ONLY_SQL
from store.records import fit_only

COLUMNS = ["turn_id", "conversation_id", "turn_index", "context", "text", "response", "meta", "intents",
           "entities", "sentiment", "aligned", "corrected_response", "label_source", "annotators",
           "n_annotators", "agreement", "disputed", "labelled_at"]


def _latest_per_annotator(db, project: str) -> pd.DataFrame:
    return db.query_df(f"""
        SELECT turn_id, annotator, action, intents, entities, sentiment, aligned, corrected_response, created_at, seq
        FROM ({LIVE_LABELS} AND a.project = ?)
        QUALIFY row_number() OVER (PARTITION BY turn_id, annotator, action = 'adjudicate'
                                   ORDER BY seq DESC) = 1
    """, [project])


def _imported_gold(db, project: str) -> pd.DataFrame:
    return db.query_df("""
        SELECT l.turn_id, l.intents, l.entities, l.sentiment, l.aligned
        FROM imported_labels l JOIN turns t USING (turn_id) JOIN imports i ON i.import_id = l.import_id
        WHERE t.project = ? AND l.role = 'gold'
        QUALIFY row_number() OVER (PARTITION BY l.turn_id ORDER BY i.imported_at DESC) = 1
    """, [project])


def _span_key(spans) -> tuple:
    return tuple(sorted((int(s["start"]), int(s["end"]), s["label"]) for s in (spans if spans is not None else [])))


def _vote(group: pd.DataFrame) -> dict:
    """Majority of several annotators' labels for one turn, with agreement and dispute. The corrected
    response is the first annotator's non-blank one by submit order (``store.current.current_corrections``);
    two different rewrites make the turn disputed, so a reviewer picks one (the adjudication queue,
    ``store.agreement.DISAGREEMENTS``) instead of the export taking whichever row came first."""
    group = group.sort_values("seq") if "seq" in group else group
    n = len(group)
    intent_keys = [tuple(sorted(x)) for x in group["intents"]]
    intents, agreement = _majority(intent_keys)
    sentiment, _ = _majority([s for s in group["sentiment"] if pd.notna(s)])
    aligned, _ = _majority([bool(a) for a in group["aligned"] if pd.notna(a)])
    span_votes: dict[tuple, int] = {}
    for spans in group["entities"]:
        for key in _span_key(spans):
            span_votes[key] = span_votes.get(key, 0) + 1
    entities = [{"start": s, "end": e, "label": lab} for (s, e, lab), v in sorted(span_votes.items()) if v * 2 > n]
    corrected = [c for c in group["corrected_response"] if isinstance(c, str) and c.strip()]
    disputed = (len(set(intent_keys)) > 1 or group["sentiment"].nunique(dropna=False) > 1
                or group["aligned"].nunique(dropna=False) > 1 or len({_span_key(x) for x in group["entities"]}) > 1
                or len({c.strip() for c in corrected}) > 1)
    return {"intents": list(intents or []), "entities": entities, "sentiment": sentiment, "aligned": aligned,
            "corrected_response": corrected[0] if corrected else None, "agreement": agreement,
            "disputed": bool(disputed)}


def _majority(values: list) -> tuple[object, float]:
    """The most common value and the share of votes it got (ties broken by first seen)."""
    if not values:
        return None, 0.0
    value, n = Counter(values).most_common(1)[0]
    return value, n / len(values)


def _human_labels(latest: pd.DataFrame) -> pd.DataFrame:
    human = latest[latest["action"] == "submit"]
    if human.empty:
        return pd.DataFrame(columns=["turn_id"])
    counts = human.groupby("turn_id")["annotator"].transform("count")
    single = human[counts == 1].copy()
    single["agreement"], single["disputed"] = 1.0, False
    rows = [dict(turn_id=tid, **_vote(g)) for tid, g in human[counts > 1].groupby("turn_id", sort=False)]
    multi = pd.DataFrame(rows)
    out = pd.concat([single, multi], ignore_index=True) if rows else single
    meta = human.groupby("turn_id").agg(annotators=("annotator", lambda s: sorted(s)),
                                        labelled_at=("created_at", "max")).reset_index()
    out = out.drop(columns=["annotator", "action", "created_at", "seq"], errors="ignore").merge(meta, on="turn_id")
    out["label_source"] = "human"
    return out


def effective_labels(db, project: str = "default") -> pd.DataFrame:
    """One row per labelled turn of ``project`` with its effective labels (see module docstring)."""
    latest = _latest_per_annotator(db, project)
    all_adjudicated = latest[latest["action"] == "adjudicate"].sort_values("seq")
    all_adjudicated = all_adjudicated.assign(fit_only=[is_fit_only(i, e, s) for i, e, s in zip(
        all_adjudicated["intents"], all_adjudicated["entities"], all_adjudicated["sentiment"])])
    adjudicated = all_adjudicated.drop_duplicates("turn_id", keep="last")
    # what a later fit-only judgement falls back on first
    full = all_adjudicated[~all_adjudicated["fit_only"].astype(bool)].drop_duplicates("turn_id", keep="last")
    adjudicated = adjudicated.assign(label_source="adjudicated", agreement=1.0, disputed=False,
                                     annotators=[[a] for a in adjudicated["annotator"]], labelled_at=adjudicated["created_at"])
    adjudicated = adjudicated.drop(columns=["annotator", "action", "created_at", "seq"])
    human = _human_labels(latest)
    gold = _imported_gold(db, project)
    gold = gold[~gold["turn_id"].isin(human["turn_id"])]
    gold = gold.assign(label_source="imported", agreement=1.0, disputed=False, corrected_response=None,
                       annotators=[[] for _ in range(len(gold))], labelled_at=pd.NaT)
    adjudicated = _fill_fit_only(adjudicated, pd.concat([f for f in (full, human, gold) if not f.empty] or [gold]))
    human = human[~human["turn_id"].isin(adjudicated["turn_id"])]
    gold = gold[~gold["turn_id"].isin(adjudicated["turn_id"])]
    labels = pd.concat([frame for frame in (adjudicated, human, gold) if not frame.empty] or [gold], ignore_index=True)
    labels["n_annotators"] = labels["annotators"].map(len)
    turns = db.query_df("SELECT turn_id, conversation_id, turn_index, context, text, response, meta, seq "
                        "FROM turns WHERE project = ?", [project])
    merged = turns.merge(labels, on="turn_id", how="inner").sort_values("seq")
    merged = _apply_renames(db, project, merged)
    for column in ("intents", "entities", "context"):
        merged[column] = merged[column].map(_as_list)
    merged["meta"] = merged["meta"].map(lambda m: json.loads(m or "{}"))
    return merged.reindex(columns=COLUMNS).reset_index(drop=True)


def is_fit_only(intents, entities, sentiment) -> bool:
    """An adjudication that judged only the response (``store.records.fit_only`` on its stored columns)."""
    return fit_only({"intents": _as_list(intents), "entities": _as_list(entities),
                     "sentiment": sentiment if isinstance(sentiment, str) else None})


def _fill_fit_only(adjudicated: pd.DataFrame, below: pd.DataFrame) -> pd.DataFrame:
    """Fit-only adjudications take the intents, spans and sentiment of the labels below them (an earlier
    full adjudication, else the annotators, else imported gold); their own fit and corrected response stay."""
    if adjudicated.empty or below.empty:
        return adjudicated
    lookup = below.drop_duplicates("turn_id").set_index("turn_id")
    out = adjudicated.copy()
    for column in ("intents", "entities", "sentiment"):
        values = list(out[column])
        for position, (turn_id, only) in enumerate(zip(out["turn_id"], out["fit_only"])):
            if only and turn_id in lookup.index:
                values[position] = lookup.at[turn_id, column]
        out[column] = pd.Series(values, index=out.index, dtype=object)
    return out


def _as_list(value) -> list:
    if value is None or (isinstance(value, float) and value != value):
        return []
    return [dict(v) if isinstance(v, dict) else v for v in list(value)]


def _apply_renames(db, project: str, frame: pd.DataFrame) -> pd.DataFrame:
    intents, entities, sentiments = (rename_map(db, project, k) for k in ("intent", "entity", "sentiment"))
    if intents:
        frame["intents"] = frame["intents"].map(
            lambda xs: list(dict.fromkeys(intents.get(x, x) for x in (xs if xs is not None else []))))
    if entities:
        frame["entities"] = frame["entities"].map(
            lambda xs: [{**dict(s), "label": entities.get(s["label"], s["label"])} for s in (xs if xs is not None else [])])
    if sentiments:
        frame["sentiment"] = frame["sentiment"].map(lambda s: sentiments.get(s, s))
    return frame


def label_counts(db, project: str) -> tuple[int, dict[str, int]]:
    """How many turns are labelled, and how many carry each intent (latest label per turn; cheap).
    A fit-only adjudication does not label a turn (``is_fit_only``)."""
    rows = db.query(f"""
        WITH human AS (
            SELECT turn_id, intents, 0 AS src, seq FROM ({LIVE_LABELS} AND a.project = $p)
            WHERE NOT ({FIT_ONLY_SQL})),
        gold AS (
            SELECT l.turn_id, l.intents, 1 AS src, NULL::BIGINT AS seq
            FROM imported_labels l JOIN turns t USING (turn_id) WHERE t.project = $p AND l.role = 'gold'),
        eff AS (SELECT * FROM (SELECT * FROM human UNION ALL SELECT * FROM gold)
                QUALIFY row_number() OVER (PARTITION BY turn_id ORDER BY src, seq DESC) = 1)
        SELECT intent, count(*) FROM (SELECT turn_id, unnest(CASE WHEN len(intents) = 0 THEN [NULL] ELSE intents END) AS intent FROM eff)
        GROUP BY ALL
        UNION ALL SELECT '\x00labelled', count(*) FROM eff
    """, {"p": project})
    counts = {k: v for k, v in rows if k is not None}
    labelled = counts.pop("\x00labelled", 0)
    renames = rename_map(db, project, "intent")
    per_label: dict[str, int] = {}
    for name, n in counts.items():
        per_label[renames.get(name, name)] = per_label.get(renames.get(name, name), 0) + n
    return labelled, dict(sorted(per_label.items(), key=lambda kv: -kv[1]))
