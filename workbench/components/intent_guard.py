"""A submit refuses a turn with implausibly many intents.

Streamlit's multiselect once offered "Select all" / "Select N matches" first in its list, so "/"
then Enter stored a turn with all 18 intents (the box now shows no bulk option: ``select_all=False``).
Every other way to reach many intents is a slip too (digit keys mashed, an old label restored): in
the sample data 12 of 207 labelled turns carry two intents and none more. Refused rather than confirmed:
the slip that makes such a label is a repeated Enter, and a confirmation answered by the next Enter
guards nothing. A turn that really needs more can be flagged (F) for an analyst.

The ceiling is ``MAX_INTENTS_PER_TURN`` or the project's largest live label set, whichever is higher
(``intent_limit``): a multi-label project such as NLU++ (19 turns with six intents) must be able to
label what its own data holds.
"""
from __future__ import annotations

MAX_INTENTS_PER_TURN = 5


def intent_limit(largest_seen: int) -> int:
    """The guard's ceiling for a project whose largest live label set has ``largest_seen`` intents."""
    return max(MAX_INTENTS_PER_TURN, int(largest_seen or 0))


def too_many_intents(intents: list[str], limit: int = MAX_INTENTS_PER_TURN) -> str | None:
    """Why ``intents`` cannot be submitted (more than ``limit``), or None when they can."""
    if len(intents) <= limit:
        return None
    return (f"{len(intents)} intents chosen: a turn takes at most {limit}. Remove the ones that do not "
            "apply (x on a chip, or its digit key), or flag the turn (F) if it really needs more.")
