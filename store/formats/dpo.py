"""Preference pairs for DPO, in TRL's and OpenAI's shapes.

For each prompt (the context plus the user turn), chosen = a response judged aligned or a
reviewer's correction, rejected = a response judged misaligned. A misaligned response with a
correction makes a pair on its own; otherwise it pairs with an aligned response to the same prompt
(two turns with the same context and text). Pairs are in record order, so the file is deterministic.
A misaligned turn with neither makes no pair; the manifest counts those
(``misaligned_without_correction``: a reviewer's correction would turn each into a pair).

TRL (``DPOTrainer``, conversational): ``prompt`` = messages, ``chosen``/``rejected`` = one
assistant message each. OpenAI preference fine-tuning: ``input.messages``, ``preferred_output``,
``non_preferred_output``.
"""
from __future__ import annotations

from pathlib import Path

from store.formats.common import ExportOptions, dumps, is_aligned, write_jsonl_objects

TRL_COLUMNS = ("prompt", "chosen", "rejected")
OPENAI_COLUMNS = ("input", "preferred_output", "non_preferred_output")


def prompt_messages(record: dict, system_prompt: str | None = None) -> list[dict]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [{"role": c["speaker"], "content": c["text"]} for c in record.get("context") or []]
    return messages + [{"role": "user", "content": record["text"]}]


def preference_pairs(records: list[dict], *, threshold: float | None = None) -> list[tuple[dict, str, str]]:
    """(record, chosen, rejected) triples; ``threshold`` lets the model's score stand in for a judgement."""
    chosen_by_prompt: dict[str, list[str]] = {}
    for record in records:
        key = _prompt_key(record)
        if record.get("corrected_response"):
            chosen_by_prompt.setdefault(key, []).append(record["corrected_response"])
        elif record.get("response") and is_aligned(record, threshold):
            chosen_by_prompt.setdefault(key, []).append(record["response"])
    pairs = []
    for record in records:
        rejected = record.get("response")
        if not rejected or is_aligned(record, threshold) is not False:
            continue
        own = record.get("corrected_response")
        chosen = own or next((c for c in chosen_by_prompt.get(_prompt_key(record), []) if c != rejected), None)
        if chosen is not None and chosen != rejected:
            pairs.append((record, chosen, rejected))
    return pairs


def _prompt_key(record: dict) -> str:
    return dumps([record.get("context") or [], record["text"]])


def trl_example(record: dict, chosen: str, rejected: str, system_prompt: str | None = None) -> dict:
    return {"prompt": prompt_messages(record, system_prompt),
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}]}


def openai_example(record: dict, chosen: str, rejected: str, system_prompt: str | None = None) -> dict:
    return {"input": {"messages": prompt_messages(record, system_prompt), "tools": [], "parallel_tool_calls": True},
            "preferred_output": [{"role": "assistant", "content": chosen}],
            "non_preferred_output": [{"role": "assistant", "content": rejected}]}


def misaligned_turns(records: list[dict], threshold: float | None = None) -> int:
    """Turns whose response is judged (or, with ``threshold``, scored) misaligned: each could make a pair."""
    return sum(1 for r in records if r.get("response") and is_aligned(r, threshold) is False)


def _write(records: list[dict], path: Path, options: ExportOptions, shape) -> dict:
    pairs = preference_pairs(records, threshold=options.align_threshold)
    write_jsonl_objects(path, (shape(r, c, x, options.system_prompt) for r, c, x in pairs))
    return {"rows": len(pairs),
            "misaligned_without_correction": misaligned_turns(records, options.align_threshold) - len(pairs)}


def write_dpo_trl(records: list[dict], path: Path, options: ExportOptions) -> dict:
    return _write(records, path, options, trl_example)


def write_dpo_openai(records: list[dict], path: Path, options: ExportOptions) -> dict:
    return _write(records, path, options, openai_example)
