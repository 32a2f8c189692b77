"""Label Studio tasks JSON: ``data`` + ``annotations`` (the curated labels) + ``predictions`` (the model's).

``labelstudio_config(schema)`` gives the labelling config XML that matches the ``from_name`` /
``to_name`` used here, so the file imports into a project as is. Offsets are written in code
points, the unit Label Studio's ``<Text>`` tag stores: its own frontend test "NER - Emoji - Text"
expects start 21 for "test" in "🐱 Warning: This is a test text" (UTF-16 units would say 22).
Label Studio versions of 2021 counted UTF-16 units (JavaScript string indices; HumanSignal/label-studio
issue 1347, fixed by label-studio-frontend PR 308): the reader notices a span whose ``text`` only
matches under UTF-16 and converts it, with a warning. tests/test_labelstudio_offsets.py holds both.
"""
from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from store.formats.common import ExportOptions, FormatReadResult, add_record, dumps, note_empty, read_utf8, schema_names
from store.message_text import shown
from store.records import Problem

ALIGNMENT_CHOICES = {True: "aligned", False: "misaligned"}
CORRECTION = "corrected_response"   # the TextArea holding a reviewer's rewrite of the response


def _results(labels: dict, turn_id: str, prefix: str) -> list[dict]:
    """Label Studio result items for one set of labels (human or predicted)."""
    items = []
    for i, span in enumerate(labels.get("entities") or []):
        text = labels["_text"][span["start"]:span["end"]]
        items.append({"id": f"{turn_id}-{prefix}e{i}", "from_name": "entities", "to_name": "text", "type": "labels",
                      "value": {"start": span["start"], "end": span["end"], "text": text, "labels": [span["label"]]}})
    choices = [("intents", "text", labels.get("intents") or []),
               ("sentiment", "text", [labels["sentiment"]] if labels.get("sentiment") else []),
               ("alignment", "response", [ALIGNMENT_CHOICES[labels["aligned"]]] if labels.get("aligned") is not None else [])]
    for name, to_name, values in choices:
        if values:
            items.append({"id": f"{turn_id}-{prefix}{name}", "from_name": name, "to_name": to_name, "type": "choices",
                          "value": {"choices": list(values)}})
    if labels.get("corrected_response"):
        items.append({"id": f"{turn_id}-{prefix}correction", "from_name": CORRECTION, "to_name": "response",
                      "type": "textarea", "value": {"text": [labels["corrected_response"]]}})
    return items


def labelstudio_task(record: dict) -> dict:
    turn_id = record.get("id") or ""
    data = {"text": record["text"], "turn_id": record.get("id"), "conversation_id": record.get("conversation_id"),
            "turn_index": record.get("turn_index"), "context": record.get("context") or [],
            "response": record.get("response") or "", "meta": record.get("meta") or {}}
    task = {"data": data, "annotations": [{"result": _results({**record, "_text": record["text"]}, turn_id, "")}],
            "predictions": []}
    prediction = record.get("prediction")
    if prediction:
        predicted = {k: prediction.get(k) for k in ("intents", "entities", "sentiment")}
        score = prediction.get("alignment_score")
        if score is not None and record.get("response"):
            predicted["aligned"] = score >= 0.5
        task["predictions"].append({"model_version": prediction.get("run_id") or "", "result":
                                    _results({**predicted, "_text": record["text"]}, turn_id, "p")})
    return task


def write_labelstudio(records: list[dict], path: Path, options: ExportOptions) -> dict:
    """The tasks JSON at ``path`` and the matching ``label_config.xml`` beside it."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("[\n" + ",\n".join(dumps(labelstudio_task(r)) for r in records) + "\n]\n")
    with open(path.parent / "label_config.xml", "w", encoding="utf-8", newline="\n") as f:
        f.write(labelstudio_config(options.schema or {}, records))
    return {"rows": len(records)}


def labelstudio_config(schema: dict, records: list[dict] = ()) -> str:
    """The labelling config XML whose control names match the tasks written here."""
    options = ExportOptions(schema=schema)

    def choices(names):
        return "".join(f"\n    <Choice value={quoteattr(n)}/>" for n in names)

    entities = "".join(f"\n    <Label value={quoteattr(n)}/>" for n in schema_names(options, "entities", list(records)))
    return f"""<View>
  <Paragraphs name="context" value="$context" nameKey="speaker" textKey="text"/>
  <Labels name="entities" toName="text">{entities}
  </Labels>
  <Text name="text" value="$text"/>
  <Choices name="intents" toName="text" choice="multiple">{choices(schema_names(options, "intents", list(records)))}
  </Choices>
  <Choices name="sentiment" toName="text" choice="single">{choices(schema_names(options, "sentiments", list(records)))}
  </Choices>
  <Text name="response" value="$response"/>
  <Choices name="alignment" toName="response" choice="single">{choices(["aligned", "misaligned"])}
  </Choices>
  <TextArea name="{CORRECTION}" toName="response" editable="true"/>
</View>
"""


# ---------------------------------------------------------------- reading


def utf16_to_code_points(text: str, offset: int) -> int | None:
    """The code-point index of a UTF-16 unit offset; None if it falls inside a surrogate pair or past the end."""
    units = 0
    for index, char in enumerate(text):
        if units == offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
        if units > offset:
            return None
    return len(text) if units == offset else None


def read_labelstudio(path: Path) -> FormatReadResult:
    """Read Label Studio tasks (a JSON list, or one task): the latest kept annotation of each is its labels."""
    result, name = FormatReadResult(), str(path)
    raw = read_utf8(Path(path), result)
    if raw is None:
        return result
    try:
        tasks = json.loads(raw)
    except json.JSONDecodeError as exc:
        result.problems.append(Problem(name, exc.lineno, "", f"not valid JSON: {exc.msg}"))
        return result
    for number, task in enumerate(tasks if isinstance(tasks, list) else [tasks], start=1):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            result.problems.append(Problem(name, number, f"tasks[{number - 1}].data", "expected a task object with a 'data' object"))
            continue
        _read_task(result, name, number, task)
    return note_empty(result, Path(path))


def _task_text(data: dict) -> str | None:
    if isinstance(data.get("text"), str):
        return data["text"]
    return next((v for v in data.values() if isinstance(v, str) and v.strip()), None)


def _latest_annotation(task: dict) -> dict:
    kept = [a for a in task.get("annotations") or task.get("completions") or []
            if isinstance(a, dict) and not a.get("was_cancelled")]
    kept.sort(key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))
    return kept[-1] if kept else {"result": []}


def _read_task(result: FormatReadResult, name: str, number: int, task: dict) -> None:
    data, where = task["data"], f"tasks[{number - 1}]"
    text = _task_text(data)
    record = {"id": data.get("turn_id") or data.get("id") or (str(task["id"]) if task.get("id") is not None else None),
              "conversation_id": data.get("conversation_id"), "turn_index": data.get("turn_index"),
              "context": data.get("context") if isinstance(data.get("context"), list) else None,
              "text": text, "response": data.get("response") or None, "meta": data.get("meta") or None,
              "intents": [], "entities": []}
    for i, item in enumerate(_latest_annotation(task).get("result") or []):
        field = f"{where}.annotations.result[{i}]"
        problem = _apply_result(result, name, number, field, record, item)
        if problem:
            result.problems.append(Problem(name, number, field, problem))
            return
    add_record(result, name, number, record)


def _apply_result(result: FormatReadResult, name: str, number: int, field: str, record: dict, item: dict) -> str | None:
    value = item.get("value") if isinstance(item, dict) else None
    if not isinstance(value, dict):
        return "expected a result item with a 'value' object"
    source = str(item.get("from_name") or "")
    if "labels" in value and "start" in value:
        span, problem = _span(result, name, number, field, record["text"] or "", value)
        if span:
            record["entities"].append(span)
        return problem
    if "choices" in value:
        _apply_choices(record, source, [str(c) for c in value["choices"]])
    elif source == CORRECTION or (item.get("type") == "textarea" and item.get("to_name") == "response"):
        return _apply_correction(record, value.get("text"))
    return None


def _apply_correction(record: dict, texts) -> str | None:
    """The reviewer's rewrite of the response (a TextArea on it, as ``labelstudio_config`` writes):
    exactly one text, since two submissions are two rewrites and merging them would invent a third."""
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        return f"expected the corrected response as a list of strings, got {texts!r:.60}"
    written = [t for t in texts if t.strip()]
    if len(written) > 1:
        return f"expected one corrected response, got {len(written)} texts: keep the one meant"
    record["corrected_response"] = written[0] if written else None
    return None


def _apply_choices(record: dict, source: str, chosen: list[str]) -> None:
    if "sentiment" in source:
        record["sentiment"] = chosen[0] if chosen else None
    elif "align" in source:
        record["aligned"] = (chosen[0] in ("aligned", "true", "True", "yes")) if chosen else None
    else:
        record["intents"] += [c for c in chosen if c not in record["intents"]]


def _span(result, name: str, number: int, field: str, text: str, value: dict) -> tuple[dict | None, str | None]:
    start, end, labels = value.get("start"), value.get("end"), value.get("labels") or []
    if not isinstance(start, int) or not isinstance(end, int) or not labels:
        return None, f"expected integer start/end and a label, got start={start!r} end={end!r} labels={labels!r}"
    quoted = value.get("text")
    if quoted is None or text[start:end] == quoted:
        return {"start": start, "end": end, "label": labels[0]}, None
    start16, end16 = utf16_to_code_points(text, start), utf16_to_code_points(text, end)
    if start16 is not None and end16 is not None and text[start16:end16] == quoted:
        result.warnings.append(Problem(name, number, field, f"offsets [{start}, {end}) count UTF-16 units; "
                                       f"converted to code points [{start16}, {end16})"))
        return {"start": start16, "end": end16, "label": labels[0]}, None
    return None, (f"span says {shown(quoted)} but text[{start}:{end}] is {shown(text[start:end])} "
                  "(in code points and in UTF-16 units)")
