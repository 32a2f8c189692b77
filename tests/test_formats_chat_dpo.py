"""Which responses chat and DPO exports learn from: judged, corrected, or scored by the model."""
from __future__ import annotations

from store.formats import ExportOptions
from store.formats.chat import chat_examples
from store.formats.dpo import openai_example, preference_pairs, trl_example


def turn(**kw) -> dict:
    base = {"id": "t", "conversation_id": "c", "turn_index": 0, "context": [], "text": "where is my parcel?",
            "response": "It ships today.", "intents": [], "entities": [], "sentiment": None, "aligned": None, "meta": {}}
    return {**base, **kw}


def test_chat_threshold_lets_the_model_score_stand_in_only_for_unjudged_turns():
    scored = turn(prediction={"alignment_score": 0.9})
    judged_bad = turn(aligned=False, prediction={"alignment_score": 0.99})
    low = turn(prediction={"alignment_score": 0.3})
    assert chat_examples([scored, judged_bad, low], ExportOptions()) == []
    kept = chat_examples([scored, judged_bad, low], ExportOptions(align_threshold=0.8, system_prompt="Be brief."))
    assert kept == [{"messages": [{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "where is my parcel?"},
                                  {"role": "assistant", "content": "It ships today."}]}]


def test_dpo_pairs_a_misaligned_response_with_an_aligned_one_to_the_same_prompt():
    good = turn(id="a", aligned=True, response="It ships today.")
    bad = turn(id="b", aligned=False, response="Hello!")
    other_prompt = turn(id="c", text="refund please", aligned=False, response="No.")
    pairs = preference_pairs([good, bad, other_prompt])
    assert [(r["id"], chosen, rejected) for r, chosen, rejected in pairs] == [("b", "It ships today.", "Hello!")]
    record, chosen, rejected = pairs[0]
    assert trl_example(record, chosen, rejected)["prompt"] == [{"role": "user", "content": "where is my parcel?"}]
    assert openai_example(record, chosen, rejected)["non_preferred_output"] == [{"role": "assistant", "content": "Hello!"}]


def test_dpo_correction_is_the_chosen_side_of_its_own_turn():
    corrected = turn(aligned=False, response="Hello!", corrected_response="It ships today, tracking 42.")
    assert [(c, r) for _, c, r in preference_pairs([corrected])] == [("It ships today, tracking 42.", "Hello!")]
    assert preference_pairs([turn(aligned=None, response="Hello!", prediction={"alignment_score": 0.1})]) == []
