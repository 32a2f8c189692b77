"""Chat fine-tuning JSONL: ``{"messages": [...]}`` per turn, with the context turns before it.

Only responses fit to learn from are exported: judged aligned, or corrected by a reviewer (the
correction replaces the response), or -- when ``align_threshold`` is given -- not judged by anyone
but scored at least that by the model. Misaligned responses without a correction are left out
(they belong in the DPO export as the rejected side).
"""
from __future__ import annotations

from pathlib import Path

from store.formats.common import ExportOptions, is_aligned, write_jsonl_objects


def chat_messages(record: dict, response: str, system_prompt: str | None = None) -> list[dict]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [{"role": c["speaker"], "content": c["text"]} for c in record.get("context") or []]
    messages.append({"role": "user", "content": record["text"]})
    messages.append({"role": "assistant", "content": response})
    return messages


def training_response(record: dict, threshold: float | None) -> str | None:
    """The response to train on, or None when this turn has none fit to learn from."""
    if record.get("corrected_response"):
        return record["corrected_response"]
    if record.get("response") and is_aligned(record, threshold):
        return record["response"]
    return None


def chat_examples(records: list[dict], options: ExportOptions) -> list[dict]:
    examples = []
    for record in records:
        response = training_response(record, options.align_threshold)
        if response is not None:
            examples.append({"messages": chat_messages(record, response, options.system_prompt)})
    return examples


def write_chat(records: list[dict], path: Path, options: ExportOptions) -> dict:
    examples = chat_examples(records, options)
    write_jsonl_objects(path, examples)
    return {"rows": len(examples), "rows_without_aligned_response": len(records) - len(examples)}
