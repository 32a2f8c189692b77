"""Curated training sets out of the store: filter the labelled turns, split them, write a format, and
leave a manifest that says exactly what was exported.

``export_records`` is the pure part (records in, files + manifest out, byte-identical for the same
input); ``export`` reads ``annotations.effective_labels`` and the latest model run's predictions,
applies ``ExportFilters`` and records the export in the ``exports`` table. The output folder is
built beside the target and renamed into place, so a failed export never leaves half a set.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import subprocess
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

import pandas as pd

from store.export_manifest import export_time, iso_utc, records_label_state, store_label_state
from store.formats import EXPORTERS, UNSPLIT, ExportOptions, write_format
from store.formats.common import is_multi_label, sort_records
from store.formats.schema_yaml import write_schema_yaml
from store.formats.words import DEFAULT_TOKENIZER

LABEL_SOURCES = ("adjudicated", "human", "imported")
DEFAULT_RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ExportFilters:
    """Which labelled turns go into an export. Every filter is off by default, except that turns whose
    annotators disagree and no reviewer resolved (``disputed``) are left out unless asked for."""

    sources: tuple[str, ...] = LABEL_SOURCES
    min_agreement: float | None = None
    annotators: tuple[str, ...] = ()            # labelled by any of these
    since: str | None = None                    # ISO date, inclusive, on labelled_at (imported gold has none: excluded)
    until: str | None = None                    # ISO date, inclusive
    intents: tuple[str, ...] = ()               # carrying any of these
    model_agreement: str | None = None          # agree | disagree: latest run's intents vs the labels
    min_alignment_score: float | None = None    # latest run's alignment score
    max_alignment_score: float | None = None
    include_disputed: bool = False

    def __post_init__(self):
        unknown = set(self.sources) - set(LABEL_SOURCES)
        if unknown:
            raise ValueError(f"sources: expected some of {list(LABEL_SOURCES)}, got {sorted(unknown)}")
        if self.model_agreement not in (None, "agree", "disagree"):
            raise ValueError(f"model_agreement: expected agree, disagree or None, got {self.model_agreement!r}")
        for name in ("since", "until"):
            if getattr(self, name) is not None:
                date.fromisoformat(getattr(self, name))  # raises ValueError naming the bad date

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class ExportResult:
    export_id: str | None
    out: Path
    manifest: dict = field(default_factory=dict)


# ---------------------------------------------------------------- filtering


def _needs_predictions(filters: ExportFilters) -> bool:
    return (filters.model_agreement is not None or filters.min_alignment_score is not None
            or filters.max_alignment_score is not None)


def filter_labelled(frame: pd.DataFrame, filters: ExportFilters, predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows of an ``effective_labels`` frame that pass ``filters`` (predictions: one row per turn_id)."""
    keep = frame["label_source"].isin(filters.sources)
    if not filters.include_disputed:
        keep &= ~frame["disputed"].fillna(False).astype(bool)
    if filters.min_agreement is not None:
        keep &= frame["agreement"].fillna(0) >= filters.min_agreement
    if filters.annotators:
        wanted = set(filters.annotators)
        keep &= frame["annotators"].map(lambda names: bool(wanted & set(names if names is not None else [])))
    if filters.intents:
        wanted = set(filters.intents)
        keep &= frame["intents"].map(lambda names: bool(wanted & set(names)))
    keep &= _date_mask(frame, filters)
    if _needs_predictions(filters):
        keep &= _prediction_mask(frame, filters, predictions)
    return frame[keep]


def _date_mask(frame: pd.DataFrame, filters: ExportFilters) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    stamps = pd.to_datetime(frame["labelled_at"])
    if filters.since:
        mask &= stamps >= pd.Timestamp(filters.since)
    if filters.until:
        mask &= stamps < pd.Timestamp(filters.until) + pd.Timedelta(days=1)
    return mask.fillna(False).astype(bool)


def _prediction_mask(frame: pd.DataFrame, filters: ExportFilters, predictions: pd.DataFrame | None) -> pd.Series:
    if predictions is None or predictions.empty:
        raise ValueError("a model-agreement or alignment-score filter needs a finished model run with predictions")
    by_turn = predictions.set_index("turn_id")
    joined = frame[["turn_id", "intents"]].join(by_turn[["intents", "alignment_score"]], on="turn_id", rsuffix="_model")
    mask = pd.Series(True, index=frame.index)
    if filters.model_agreement is not None:
        agree = [m is not None and not isinstance(m, float) and set(m) == set(h)  # NaN: no prediction for the turn
                 for h, m in zip(joined["intents"], joined["intents_model"])]
        mask &= pd.Series(agree, index=frame.index) == (filters.model_agreement == "agree")
    score = joined["alignment_score"]
    if filters.min_alignment_score is not None:
        mask &= (score >= filters.min_alignment_score).fillna(False)
    if filters.max_alignment_score is not None:
        mask &= (score <= filters.max_alignment_score).fillna(False)
    return mask.astype(bool)


# ---------------------------------------------------------------- records


def _clean(value):
    """pandas/NumPy missing values and scalars as plain Python."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict, str)) else value


def frame_to_records(frame: pd.DataFrame, predictions: pd.DataFrame | None = None, run_id: str | None = None) -> list[dict]:
    """Native records (plus ``corrected_response`` and the model's ``prediction``) from effective labels.

    Works column-wise (``Series.tolist``): ``DataFrame.to_dict("records")`` is ten times slower at 100k rows.
    """
    by_turn = {} if predictions is None or predictions.empty else predictions.set_index("turn_id").to_dict("index")
    columns = {c: frame[c].tolist() if c in frame else [None] * len(frame) for c in (
        "turn_id", "conversation_id", "turn_index", "context", "text", "response", "intents", "entities", "sentiment",
        "aligned", "meta", "corrected_response")}
    records = []
    for i, turn_id in enumerate(columns["turn_id"]):
        aligned = _clean(columns["aligned"][i])
        record = {
            "id": turn_id, "conversation_id": columns["conversation_id"][i], "turn_index": _clean(columns["turn_index"][i]),
            "context": [dict(c) for c in columns["context"][i] or []], "text": columns["text"][i],
            "response": _clean(columns["response"][i]), "intents": list(columns["intents"][i] or []),
            "entities": [_span(s) for s in columns["entities"][i] or []], "sentiment": _clean(columns["sentiment"][i]),
            "aligned": None if aligned is None else bool(aligned), "meta": columns["meta"][i] or {},
            "corrected_response": _clean(columns["corrected_response"][i]),
        }
        if turn_id in by_turn:
            record["prediction"] = _prediction(by_turn[turn_id], run_id)
        records.append(record)
    return records


def _span(span) -> dict:
    return {"start": int(span["start"]), "end": int(span["end"]), "label": span["label"]}


def _prediction(row: dict, run_id: str | None) -> dict:
    entities = row.get("entities")
    return {"run_id": run_id, "intents": list(row.get("intents") if row.get("intents") is not None else []),
            "entities": [_span(s) for s in (entities if entities is not None else [])],
            "sentiment": _clean(row.get("sentiment")), "alignment_score": _clean(row.get("alignment_score"))}


# ---------------------------------------------------------------- splits


def split_records(records: list[dict], *, seed: int = 0, ratios: dict[str, float] = DEFAULT_RATIOS) -> dict[str, list[dict]]:
    """Seeded train/validation/test split: whole conversations only, stratified by intent.

    A conversation's stratum is its most common first intent. Strata are walked in name order and
    each stratum's conversations in a seeded shuffle; each goes to the split furthest below its share,
    counting both within the stratum and overall (so small strata still fill validation and test).
    scikit-learn's StratifiedGroupKFold makes k folds, not ratios, and is not a store dependency.
    """
    if not ratios or any(r < 0 for r in ratios.values()) or not math.isclose(sum(ratios.values()), 1.0):
        raise ValueError(f"ratios: expected non-negative shares summing to 1, got {ratios}")
    groups: dict[str, list[int]] = {}
    for position, record in enumerate(records):
        groups.setdefault(record.get("conversation_id") or record.get("id") or record["text"], []).append(position)
    strata: dict[str, list[str]] = {}
    for key, members in groups.items():
        firsts = Counter(records[p]["intents"][0] for p in members if records[p].get("intents"))
        strata.setdefault(min(firsts, key=lambda i: (-firsts[i], i)) if firsts else "", []).append(key)
    rng, assigned = random.Random(seed), {name: [] for name in ratios}
    overall = Counter()
    for stratum in sorted(strata):
        keys = sorted(strata[stratum])
        rng.shuffle(keys)
        local = Counter()
        for key in keys:
            size = len(groups[key])
            target = _furthest_below(ratios, local, overall, size)
            assigned[target].append(key)
            local[target] += size
            overall[target] += size
    # Each split keeps the input order (export_records sorts before splitting).
    return {name: [records[p] for p in sorted(p for key in keys for p in groups[key])] for name, keys in assigned.items()}


def _furthest_below(ratios: dict[str, float], local: Counter, overall: Counter, size: int) -> str:
    n_local, n_overall = sum(local.values()) + size, sum(overall.values()) + size
    return max(ratios, key=lambda s: (ratios[s] * n_local - local[s]) + (ratios[s] * n_overall - overall[s]))


# ---------------------------------------------------------------- manifest


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    try:
        from importlib.metadata import version

        release = version("concord")
    except Exception:  # not installed as a distribution (running from the source tree)
        release = "unknown"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=Path(__file__).parent,
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{release}+g{commit}" if commit else release


def label_counts(records: list[dict]) -> dict:
    """Turns, conversations and how many carry each label: what a reviewer of the set looks at first."""
    intents, entities, sentiments = Counter(), Counter(), Counter()
    aligned = Counter()
    for r in records:
        intents.update(r.get("intents") or [])
        entities.update(s["label"] for s in r.get("entities") or [])
        if r.get("sentiment"):
            sentiments[r["sentiment"]] += 1
        aligned[{True: "aligned", False: "misaligned", None: "unjudged"}[r.get("aligned")]] += 1
    return {"turns": len(records), "conversations": len({r.get("conversation_id") or r.get("id") for r in records}),
            "intents": dict(sorted(intents.items())), "entities": dict(sorted(entities.items())),
            "sentiments": dict(sorted(sentiments.items())), "alignment": dict(sorted(aligned.items()))}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(folder: Path, splits: dict[str, list[dict]], details: dict) -> dict:
    """Write ``manifest.json`` and return it. Its one timestamp, ``exported_at``, comes with ``details``
    (from ``export``), so the same records exported twice still give byte-identical files."""
    files = {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}
    manifest = dict(details, counts={name: label_counts(records) for name, records in splits.items()}, files=files)
    with open(folder / MANIFEST, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return manifest


# ---------------------------------------------------------------- writing


def export_records(records: list[dict], out: str | Path, *, fmt: str, split: bool = False, seed: int = 0,
                   ratios: dict[str, float] = DEFAULT_RATIOS, options: ExportOptions | None = None,
                   provenance: dict | None = None, overwrite: bool = False) -> dict:
    """Write ``records`` in format ``fmt`` under the folder ``out`` with ``schema.yaml`` (the label schema,
    ``options.schema``) and ``manifest.json``; returns the manifest.

    ``provenance`` (filters, project, schema hash, model run, ``exported_at``/``exported_by``, the store's
    part of ``label_state``) is copied into the manifest as is; ``exported_at`` and ``exported_by`` are
    null without it. ``label_state`` always carries the fingerprint of the exported labels.
    """
    if fmt not in EXPORTERS:
        raise ValueError(f"format: expected one of {sorted(EXPORTERS)}, got {fmt!r}")
    options = options or ExportOptions()
    if options.multi_label is None:     # one intent rule for every split (store.records.intent_labelled)
        options = replace(options, multi_label=is_multi_label(records))
    ordered = sort_records(records)
    splits = split_records(ordered, seed=seed, ratios=ratios) if split else {UNSPLIT: ordered}
    out = Path(out)
    staging = _staging_dir(out, overwrite=overwrite)
    try:
        format_counts = write_format(fmt, splits, staging, options)
        schema_file = write_schema_yaml(staging, options.schema, ordered)   # init --schema restores the labels
        split_rule = {"seed": seed, "ratios": dict(ratios), "stratified_by": "intent",
                      "grouped_by": "conversation_id"} if split else None
        details = dict(_identity(ordered, provenance), format=fmt, format_counts=format_counts, split=split_rule,
                       schema_file=schema_file, code_version=code_version(),
                       tokenizer=(options.tokenizer or DEFAULT_TOKENIZER) if EXPORTERS[fmt].token_level else None)
        manifest = build_manifest(staging, splits, details)
        _publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _identity(records: list[dict], provenance: dict | None) -> dict:
    """``provenance`` plus what ties the export to its data state: ``exported_at``/``exported_by`` (null
    when the caller does not say) and ``label_state``, the records' fingerprint with the store's part."""
    provenance = dict(provenance or {})
    store_part = provenance.pop("label_state", None) or {}
    return {"exported_at": None, "exported_by": None, **provenance,
            "label_state": {**records_label_state(records), **store_part}}


def _staging_dir(out: Path, *, overwrite: bool) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise FileExistsError(f"{out}: already exists and is not empty; choose a new folder or overwrite")
        if not (out / MANIFEST).is_file():
            raise FileExistsError(f"{out}: not an earlier export (no {MANIFEST}); refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.partial"
    staging.mkdir()
    return staging


def _publish(staging: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)


# ---------------------------------------------------------------- from the store


def latest_run(db, project: str) -> str | None:
    """The newest finished model run of the project: its predictions are the ones exports use."""
    rows = db.query("SELECT run_id FROM model_runs WHERE project = ? AND status = 'done' "
                    "ORDER BY finished_at DESC NULLS LAST, created_at DESC, run_id DESC LIMIT 1", [project])
    return rows[0][0] if rows else None


def run_predictions(db, run_id: str | None) -> pd.DataFrame | None:
    if run_id is None:
        return None
    return db.query_df("SELECT turn_id, intents, entities, sentiment, alignment_score FROM predictions WHERE run_id = ?",
                       [run_id])


def export(db, out: str | Path, *, fmt: str, project: str = "default", filters: ExportFilters | None = None,
           split: bool = False, seed: int | None = None, ratios: dict[str, float] = DEFAULT_RATIOS,
           options: ExportOptions | None = None, exported_by: str | None = None, overwrite: bool = False) -> ExportResult:
    """Export the project's labelled turns that pass ``filters``; the export is recorded in ``exports``."""
    from store import annotations, labels

    filters = filters or ExportFilters()
    run_id = latest_run(db, project)
    predictions = run_predictions(db, run_id)
    labelled = annotations.effective_labels(db, project)
    frame = filter_labelled(labelled, filters, predictions)
    schema = labels.get_schema(db, project)
    records = frame_to_records(frame, predictions, run_id)
    # Every labelled turn, filtered or not, can be quoted in an exported turn's context: the chat export
    # weighs each quoted response by its own fit judgement.
    history = tuple(frame_to_records(labelled, predictions, run_id)) if fmt == "chat" else ()
    options = ExportOptions(**{**asdict(options or ExportOptions()), "schema": schema, "history": history})
    if seed is None:
        seed = (labels.get_project(db, project) or {}).get("seed", 0)
    exported_at = export_time()
    provenance = {"project": project, "filters": filters.to_dict(), "schema_hash": labels.schema_hash(db, project),
                  "model_run": run_id, "exported_at": iso_utc(exported_at), "exported_by": exported_by,
                  "label_state": store_label_state(db, project, frame)}
    manifest = export_records(records, out, fmt=fmt, split=split, seed=seed, ratios=ratios, options=options,
                              provenance=provenance, overwrite=overwrite)
    export_id = uuid.uuid4().hex
    db.write(_record_export, export_id, project, fmt, filters, manifest, str(Path(out).resolve()), exported_by,
             exported_at.replace(tzinfo=None))
    return ExportResult(export_id=export_id, out=Path(out), manifest=manifest)


def _record_export(con, export_id, project, fmt, filters, manifest, out_path, exported_by, exported_at) -> None:
    """The ``exports`` row, stamped with the manifest's own ``exported_at`` (naive UTC, like annotations)."""
    con.execute("INSERT INTO exports (export_id, project, format, filters, manifest, out_path, exported_by, "
                "exported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [export_id, project, fmt, json.dumps(filters.to_dict(), sort_keys=True),
                 json.dumps(manifest, sort_keys=True, ensure_ascii=False), out_path, exported_by, exported_at])


def list_exports(db, project: str = "default") -> list[dict]:
    """Who exported what, when (newest first), with the start of each export's label fingerprint."""
    return db.query_dicts("SELECT export_id, format, out_path, exported_by, exported_at, "
                          "left(json_extract_string(manifest, '$.label_state.fingerprint'), 12) AS labels "
                          "FROM exports WHERE project = ? ORDER BY exported_at DESC", [project])
