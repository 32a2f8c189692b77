"""Which labels an import may add to the project's schema: new ones yes, likely typos of known ones no.

Split from ``store.importer`` (the schema rule is its own concern): it runs inside the import's
transaction, so a refused label leaves nothing half-imported.
"""
from __future__ import annotations

from store import labels as label_schema
from store.message_text import quoted
from store.records import Problem


def check_labels_against_schema(con, project, records, origins, role, strict_schema, report) -> None:
    """Unknown labels extend the schema, unless ``strict_schema`` ("extend" keeps look-alikes too).

    A label that is not in the schema but looks like one that is ("trak_order" beside "track_order",
    "Refund" beside "refund") is refused as a likely typo: adding it would split one class in two
    without a word. ``strict_schema="extend"`` adds it anyway; ``True`` refuses every unknown label."""
    if role == "ignored":
        return
    schema = label_schema.schema_from_con(con, project)
    kinds = {"intent": set(schema["intents"]), "entity": set(schema["entities"]), "sentiment": set(schema["sentiments"])}
    known = {kind: sorted(names) for kind, names in kinds.items()}     # the schema before this import
    new: dict[str, list[str]] = {k: [] for k in kinds}
    for record, origin in zip(records, origins):
        for kind, field_name, names in _labels_of(record):
            for name in names:
                if name in kinds[kind]:
                    continue
                problem = _unknown_label_problem(kind, name, known[kind], strict_schema)
                if problem:
                    report.problems.append(Problem(origin[0], origin[1], field_name, problem))
                else:
                    kinds[kind].add(name)
                    new[kind].append(name)
    if not report.problems:
        for kind, names in new.items():
            for name in names:
                label_schema.insert_label(con, project, kind, name)
        report.new_labels = {k: v for k, v in new.items() if v}


def _unknown_label_problem(kind: str, name: str, known: list[str], strict_schema) -> str | None:
    """Why ``name`` may not join the schema, or None when it may."""
    if strict_schema is True:
        return (f"{kind} {quoted(name)} is not in the label schema (--strict-schema); "
                f"known: [{', '.join(map(quoted, known[:10]))}]")
    look_alike = None if strict_schema == "extend" else _look_alike(name, known)
    if look_alike:
        return (f"{kind} {quoted(name)} is not in the label schema and looks like a typo of {quoted(look_alike)}; "
                f"fix it, or pass --extend-schema to add it as a new {kind}")
    return None


def _look_alike(name: str, known: list[str]) -> str | None:
    """The known label ``name`` probably misspells: equal but for case and separators, or (5+ letters)
    one typing slip away: a letter missing, extra, wrong, or two swapped. Not a similarity ratio:
    SGD's "appointment_date" and "appointment_time" are 0.88 alike and both real."""
    def folded(label: str) -> str:
        return "".join(ch for ch in label.casefold() if ch.isalnum())

    same = [label for label in known if folded(label) == folded(name)]
    if same:
        return same[0]
    if len(name) < 5:
        return None
    return next((label for label in known if _one_slip_apart(name.casefold(), label.casefold())), None)


def _one_slip_apart(a: str, b: str) -> bool:
    """Optimal-string-alignment distance <= 1 (a deletion, insertion, substitution or adjacent swap)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    start = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    a, b = a[start:], b[start:]
    return (a[1:] == b[1:] or a[1:] == b or a == b[1:]
            or (len(a) == len(b) >= 2 and a[0] == b[1] and a[1] == b[0] and a[2:] == b[2:]))


def _labels_of(record):
    yield "intent", "intents", record["intents"]
    yield "entity", "entities", [s["label"] for s in record["entities"]]
    if record["sentiment"]:
        yield "sentiment", "sentiment", [record["sentiment"]]
