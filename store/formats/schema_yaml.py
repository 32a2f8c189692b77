"""The project's label schema, written beside every export in the YAML ``concord init --schema`` reads.

A re-import of a native export used to infer the labels from the data: every description was lost,
and the labels came back in the order the data first used them, not the project's. With
``schema.yaml`` (named in the manifest as ``schema_file``), ``concord init --schema <export>/schema.yaml``
followed by ``concord import`` restores them. Same shape as sample_data/schema.yaml and read by
``store.labels.load_schema_yaml``: a plain name, or ``{name, description}`` when there is one.
Labels the records use that the schema lacks (an export of records without a project) follow,
sorted, as ``schema_names`` orders them for every other format.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from store.formats.common import ExportOptions, schema_names, write_text

SCHEMA_FILE = "schema.yaml"
KINDS = (("intents", "intent"), ("entities", "entity"), ("sentiments", "sentiment"))
HEADER = ("# Label schema of this export (intents, entities, sentiments in the project's order, with descriptions).\n"
          "# Load it with: concord init --schema schema.yaml, then concord import the data files.\n")


def schema_document(schema: dict | None, records: list[dict]) -> dict:
    """{"intents": [...], "entities": [...], "sentiments": [...]}: names, or {name, description}."""
    options = ExportOptions(schema=schema)
    descriptions = (schema or {}).get("descriptions") or {}
    document = {}
    for key, kind in KINDS:
        document[key] = [{"name": name, "description": descriptions[f"{kind}:{name}"]}
                         if descriptions.get(f"{kind}:{name}") else name
                         for name in schema_names(options, key, records)]
    return document


def schema_yaml(schema: dict | None, records: list[dict]) -> str:
    """The schema as YAML text, deterministic (the same schema gives the same bytes)."""
    body = yaml.safe_dump(schema_document(schema, records), allow_unicode=True, sort_keys=False,
                          default_flow_style=False, width=1 << 16)
    return HEADER + body


def write_schema_yaml(folder: Path, schema: dict | None, records: list[dict]) -> str:
    """Write ``schema.yaml`` into ``folder``; returns its name (for the manifest)."""
    write_text(Path(folder) / SCHEMA_FILE, schema_yaml(schema, records))
    return SCHEMA_FILE
