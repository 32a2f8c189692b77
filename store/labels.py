"""Projects and their label schema: intents, entity types, sentiment classes, alignment verdicts.

Renames and merges never rewrite the append-only annotation history: they are recorded in
``label_renames`` and applied when labels are read (``rename_map``), so history shows what the
annotator actually chose and today's name alike.
"""
from __future__ import annotations

from pathlib import Path

import yaml

KINDS = ("intent", "entity", "sentiment")
SCHEMA_KEYS = {"intent": "intents", "entity": "entities", "sentiment": "sentiments"}
DEFAULT_SENTIMENTS = ("negative", "neutral", "positive")
ALIGNMENT = ("aligned", "misaligned")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


# -- inside a write transaction (con is the writer's connection) ------------------------------------
def ensure_project(con, project: str) -> None:
    """Create the project on first use, with the default sentiment classes."""
    if con.execute("SELECT count(*) FROM projects WHERE project = ?", [project]).fetchall()[0][0]:
        return
    con.execute("INSERT INTO projects (project) VALUES (?)", [project])
    for name in DEFAULT_SENTIMENTS:
        insert_label(con, project, "sentiment", name)


def insert_label(con, project: str, kind: str, name: str, description: str = "") -> None:
    _check_kind(kind)
    position = con.execute(
        "SELECT coalesce(max(position), -1) + 1 FROM label_schema WHERE project = ? AND kind = ?", [project, kind]
    ).fetchone()[0]
    con.execute(
        "INSERT INTO label_schema (project, kind, name, position, description) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING", [project, kind, name, position, description],
    )


def schema_from_con(con, project: str) -> dict:
    rows = con.execute(
        "SELECT kind, name, description FROM label_schema WHERE project = ? AND active ORDER BY kind, position, name",
        [project],
    ).fetchall()
    return _schema_from_rows(rows)


def _schema_from_rows(rows) -> dict:
    schema = {"intents": [], "entities": [], "sentiments": [], "alignment": list(ALIGNMENT), "descriptions": {}}
    for kind, name, description in rows:
        schema[SCHEMA_KEYS[kind]].append(name)
        if description:
            schema["descriptions"][f"{kind}:{name}"] = description
    if not schema["sentiments"]:
        schema["sentiments"] = list(DEFAULT_SENTIMENTS)
    return schema


# -- through a Store -------------------------------------------------------------------------------
def get_schema(db, project: str = "default") -> dict:
    """The active labels of a project, in their display order."""
    rows = db.query(
        "SELECT kind, name, description FROM label_schema WHERE project = ? AND active ORDER BY kind, position, name",
        [project],
    )
    return _schema_from_rows(rows)


def schema_hash(db, project: str = "default") -> str:
    import hashlib
    import json

    schema = get_schema(db, project)
    payload = json.dumps({k: schema[k] for k in ("intents", "entities", "sentiments", "alignment")}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def get_project(db, project: str = "default") -> dict | None:
    rows = db.query_dicts("SELECT project, overlap, seed, guidelines FROM projects WHERE project = ?", [project])
    return rows[0] if rows else None


def list_projects(db) -> list[str]:
    return [r[0] for r in db.query("SELECT project FROM projects ORDER BY project")]


def create_project(db, project: str, *, overlap: int = 1, seed: int = 0) -> None:
    def create(con):
        ensure_project(con, project)
        con.execute("UPDATE projects SET overlap = ?, seed = ? WHERE project = ?", [overlap, seed, project])
    db.write(create)


def set_guidelines(db, project: str, markdown: str) -> None:
    db.write(lambda con: con.execute("UPDATE projects SET guidelines = ? WHERE project = ?", [markdown, project]))


def set_overlap(db, project: str, overlap: int) -> None:
    if overlap < 1:
        raise ValueError(f"overlap must be at least 1, got {overlap}")
    db.write(lambda con: con.execute("UPDATE projects SET overlap = ? WHERE project = ?", [overlap, project]))


def add_label(db, project: str, kind: str, name: str, *, description: str = "") -> None:
    name = name.strip()
    if not name:
        raise ValueError("a label name must not be empty")

    def add(con):
        ensure_project(con, project)
        exists = con.execute("SELECT active FROM label_schema WHERE project=? AND kind=? AND name=?",
                             [project, kind, name]).fetchone()
        if exists is not None:
            con.execute("UPDATE label_schema SET active = true, description = ? WHERE project=? AND kind=? AND name=?",
                        [description or "", project, kind, name])
        else:
            insert_label(con, project, kind, name, description)
    db.write(add)


def rename_label(db, project: str, kind: str, old: str, new: str, *, by: str | None = None) -> None:
    """Rename ``old`` to ``new`` (which must not exist yet); the rename is kept in history."""
    merge_labels(db, project, kind, [old], new, by=by, allow_new_target=True)


def merge_labels(db, project: str, kind: str, sources: list[str], target: str, *, by: str | None = None,
                 allow_new_target: bool = False) -> None:
    """Fold ``sources`` into ``target``: the sources disappear from the schema, their labels read as target."""
    _check_kind(kind)
    target = target.strip()
    if not target or target in sources:
        raise ValueError(f"the target {target!r} must be a new non-empty name not among the sources")

    def merge(con):
        known = {r[0] for r in con.execute("SELECT name FROM label_schema WHERE project=? AND kind=? AND active",
                                           [project, kind]).fetchall()}
        missing = [s for s in sources if s not in known]
        if missing:
            raise ValueError(f"unknown {kind} label(s) {missing}; known: {sorted(known)}")
        if target in known and allow_new_target:
            raise ValueError(f"{kind} {target!r} exists already; merge into it instead of renaming")
        if target not in known:
            position = con.execute("SELECT position FROM label_schema WHERE project=? AND kind=? AND name=?",
                                   [project, kind, sources[0]]).fetchone()[0]
            con.execute("INSERT INTO label_schema (project, kind, name, position) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT DO UPDATE SET active = true", [project, kind, target, position])
        for source in sources:
            con.execute("UPDATE label_schema SET active = false WHERE project=? AND kind=? AND name=?", [project, kind, source])
            con.execute("INSERT INTO label_renames (project, kind, old_name, new_name, renamed_by) VALUES (?, ?, ?, ?, ?)",
                        [project, kind, source, target, by])
    db.write(merge)


RENAMES_SQL = "SELECT old_name, new_name FROM label_renames WHERE project=? AND kind=? ORDER BY renamed_at"


def rename_map(db, project: str, kind: str) -> dict[str, str]:
    """old name -> today's name, following chains of renames (a -> b -> c gives a -> c)."""
    return _resolve_renames(db.query(RENAMES_SQL, [project, kind]))


def rename_map_con(con, project: str, kind: str) -> dict[str, str]:
    """``rename_map`` inside a write transaction: the importer compares labels by today's names there."""
    return _resolve_renames(con.execute(RENAMES_SQL, [project, kind]).fetchall())


def _resolve_renames(rows) -> dict[str, str]:
    direct = dict(rows)
    resolved = {}
    for old in direct:
        name, hops = old, 0
        while name in direct and hops <= len(direct):
            name, hops = direct[name], hops + 1
        resolved[old] = name
    return resolved


def load_schema_yaml(db, project: str, path: str | Path) -> dict:
    """Add the labels of a YAML schema file (``intents``/``entities``: names or {name, description})."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with intents, entities, sentiments")
    entries = []
    for key, kind in (("intents", "intent"), ("entities", "entity"), ("sentiments", "sentiment")):
        items = data.get(key) or []
        if not isinstance(items, list):
            raise ValueError(f"{path}: {key}: expected a list, got {type(items).__name__}")
        for i, item in enumerate(items):
            name, description = (item, "") if isinstance(item, str) else (
                (item.get("name"), item.get("description") or "") if isinstance(item, dict) else (None, ""))
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{path}: {key}[{i}]: expected a name or {{name, description}}, got {item!r}")
            entries.append((kind, name.strip(), description))

    def load(con):
        ensure_project(con, project)
        sentiments = [(name, description) for kind, name, description in entries if kind == "sentiment"]
        if sentiments and _only_default_sentiments(con, project):
            _replace_sentiments(con, project, sentiments)
        for kind, name, description in entries:
            insert_label(con, project, kind, name, description)
    db.write(load)
    return get_schema(db, project)


def _only_default_sentiments(con, project: str) -> bool:
    """Whether the project's sentiments are still the defaults ``ensure_project`` gave it, and no turn
    could carry one yet: then they are a placeholder, not a choice, and a schema's sentiments replace them."""
    rows = con.execute("SELECT name, position, description, active FROM label_schema "
                       "WHERE project = ? AND kind = 'sentiment' ORDER BY position, name", [project]).fetchall()
    if rows != [(name, i, "", True) for i, name in enumerate(DEFAULT_SENTIMENTS)]:
        return False
    return not con.execute("SELECT count(*) FROM turns WHERE project = ?", [project]).fetchone()[0]


def _replace_sentiments(con, project: str, sentiments: list[tuple[str, str]]) -> None:
    """Make ``sentiments`` (name, description) the project's, in their order: the schema's intents and
    entities are exactly what it lists on a new project, and so are its sentiments now (an exported
    ``schema.yaml`` with "positive, negative" or a renamed class used to come back with the defaults first)."""
    names = list(dict.fromkeys(name for name, _ in sentiments))
    descriptions = {name: description for name, description in reversed(sentiments)}   # the first one wins
    con.execute("DELETE FROM label_schema WHERE project = ? AND kind = 'sentiment' AND NOT list_contains(?, name)",
                [project, names])
    for position, name in enumerate(names):
        con.execute("INSERT INTO label_schema (project, kind, name, position, description) "
                    "VALUES (?, 'sentiment', ?, ?, ?) ON CONFLICT DO UPDATE SET position = excluded.position, "
                    "description = excluded.description", [project, name, position, descriptions[name]])
