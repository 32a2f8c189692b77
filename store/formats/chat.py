"""Chat fine-tuning JSONL: ``{"messages": [...]}`` per turn, with the context turns before it.

Only responses fit to learn from are exported: judged aligned, or corrected by a reviewer (the
correction replaces the response), or -- when ``align_threshold`` is given -- not judged by anyone
but scored at least that by the model. Misaligned responses without a correction are left out
(they belong in the DPO export as the rejected side).

The history matters too: OpenAI's chat fine-tuning learns from every assistant message, not only
the last. An assistant message in the context is the response of an earlier turn of the same
conversation (``history_turns``); when that turn was corrected, the correction replaces it, and
when it is known misaligned, the message gets ``"weight": 0`` (OpenAI's per-assistant-message
switch: 0 = not trained on, still seen as context). Unjudged history stays as it is.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from store.formats.common import ExportOptions, is_aligned, write_jsonl_objects


def chat_messages(record: dict, response: str, system_prompt: str | None = None,
                  history: list[dict] | None = None) -> list[dict]:
    """The example's messages; ``history`` (from ``history_messages``) replaces the raw context."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += history if history is not None else [
        {"role": c["speaker"], "content": c["text"]} for c in record.get("context") or []]
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


def turns_by_conversation(records) -> dict[str, list[dict]]:
    """Turns with a conversation and a turn index, per conversation: where context messages are looked up."""
    grouped: dict[str, list[dict]] = {}
    for record in records:
        if record.get("conversation_id") is not None and record.get("turn_index") is not None:
            grouped.setdefault(record["conversation_id"], []).append(record)
    return grouped


def history_turns(record: dict, by_conversation: dict[str, list[dict]]) -> dict[int, dict]:
    """Context position of an assistant message -> the earlier turn it is the response of.

    That turn is in the same conversation, has a lower turn index, the message as its response and the
    user message just before it as its text. Walking the context from its end, each match must come
    before the one matched after it, so a repeated exchange ("Hi" -> "Hello!" twice) maps to two turns
    in order. A message with no such turn (or a record without a turn index) stays unmatched.
    """
    context, index = record.get("context") or [], record.get("turn_index")
    if index is None or not context:
        return {}
    earlier = [t for t in by_conversation.get(record.get("conversation_id"), []) if t["turn_index"] < index]
    matched, bound = {}, index
    for position in range(len(context) - 1, 0, -1):
        message, asked = context[position], context[position - 1]
        if message["speaker"] != "assistant" or asked["speaker"] != "user":
            continue
        candidates = [t for t in earlier if t["turn_index"] < bound and t.get("response") == message["text"]
                      and t["text"] == asked["text"]]
        if candidates:
            turn = max(candidates, key=lambda t: t["turn_index"])
            matched[position], bound = turn, turn["turn_index"]
    return matched


def history_messages(record: dict, by_conversation: dict[str, list[dict]], threshold: float | None,
                     counts: Counter) -> list[dict]:
    """The context as messages: a corrected earlier response replaced by its correction, a known
    misaligned one (``is_aligned`` is False) kept for the model to read but weighted 0."""
    matched = history_turns(record, by_conversation)
    messages = []
    for position, item in enumerate(record.get("context") or []):
        message = {"role": item["speaker"], "content": item["text"]}
        turn = matched.get(position)
        if turn is not None and turn.get("corrected_response"):
            message["content"] = turn["corrected_response"]
            counts["history_messages_corrected"] += 1
        elif turn is not None and is_aligned(turn, threshold) is False:
            message["weight"] = 0
            counts["history_messages_weighted_0"] += 1
        messages.append(message)
    return messages


def chat_examples(records: list[dict], options: ExportOptions, counts: Counter | None = None) -> list[dict]:
    """One example per turn with a response fit to learn from; ``counts`` collects the history changes.
    Earlier turns are looked up in ``options.history`` (every labelled turn) or else in ``records``."""
    counts = Counter() if counts is None else counts
    by_conversation = turns_by_conversation(options.history or records)
    examples = []
    for record in records:
        response = training_response(record, options.align_threshold)
        if response is not None:
            history = history_messages(record, by_conversation, options.align_threshold, counts)
            examples.append({"messages": chat_messages(record, response, options.system_prompt, history)})
    return examples


def write_chat(records: list[dict], path: Path, options: ExportOptions) -> dict:
    counts = Counter({"history_messages_weighted_0": 0, "history_messages_corrected": 0})
    examples = chat_examples(records, options, counts)
    write_jsonl_objects(path, examples)
    return {"rows": len(examples), "rows_without_aligned_response": len(records) - len(examples), **counts}
