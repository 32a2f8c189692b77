"""Without a named encoder a run reads the pool with the packaged English MiniLM, unless most of the turns
are in a script its vocabulary cannot read (Chinese): then the multilingual encoder. Emoji are [UNK] to
MiniLM too, but they do not make an English turn unreadable."""
from __future__ import annotations

import pytest

from pipeline.encoder_choice import AUTO, MULTILINGUAL_SHARE, choose_encoder, unreadable_share
from pipeline.encoders import MULTILINGUAL

ENGLISH = ["Where is my order 12345?", "hi 👋", "Brilliant, thanks ✈️", "I want a refund 🙂", "Cancel it please"]
CHINESE = ["我的订单在哪里？", "退款 🙂 订单12345", "最后一次用是周五，在北京。"]


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    from pipeline.encoders import _packaged_path

    return AutoTokenizer.from_pretrained(str(_packaged_path()))


def test_chinese_is_unreadable_to_the_packaged_encoder_and_emoji_are_not(minilm_tokenizer):
    assert unreadable_share(minilm_tokenizer, ENGLISH) == 0.0
    assert unreadable_share(minilm_tokenizer, CHINESE) == 1.0
    assert unreadable_share(minilm_tokenizer, ENGLISH + CHINESE[:1]) == pytest.approx(1 / 6)
    assert unreadable_share(minilm_tokenizer, []) == 0.0


def test_the_multilingual_encoder_is_chosen_from_a_share_of_unreadable_turns():
    n = 200
    few = ENGLISH * (n // len(ENGLISH))
    needing = int(n * MULTILINGUAL_SHARE)
    assert choose_encoder(None, few[: n - needing + 1] + CHINESE[:1] * (needing - 1)).name is None
    chosen = choose_encoder(AUTO, few[: n - needing] + CHINESE[:1] * needing)
    assert chosen.name == MULTILINGUAL and chosen.unreadable_share == pytest.approx(MULTILINGUAL_SHARE)
    assert "unreadable" in chosen.reason


def test_a_named_encoder_is_used_as_named():
    assert choose_encoder("/models/mine", CHINESE).name == "/models/mine"


def test_the_pipeline_page_says_which_encoder_a_run_used_and_why():
    from workbench.views.pipeline import encoder_line

    metrics = {"encoder": "multilingual-e5-small@abc123",
               "encoder_choice": {"reason": "11% of the turns are unreadable to all-MiniLM-L6-v2"}}
    assert encoder_line(metrics) == "Encoder: multilingual-e5-small (11% of the turns are unreadable to all-MiniLM-L6-v2)"
    assert encoder_line({}) == "Encoder: unknown"


def test_the_pipeline_page_warns_when_the_english_encoder_was_kept_for_a_partly_unreadable_pool():
    from workbench.views.pipeline import unreadable_warning

    kept = {"encoder_choice": {"requested": "all-MiniLM-L6-v2", "unreadable_share": 0.1111}}
    assert unreadable_warning(kept).startswith("11% of the turns")
    assert unreadable_warning({"encoder_choice": {"requested": "multilingual", "unreadable_share": 0.7}}) is None
    assert unreadable_warning({"encoder_choice": {"requested": "/models/mine", "unreadable_share": None}}) is None
    assert unreadable_warning({"encoder_choice": {"requested": "all-MiniLM-L6-v2", "unreadable_share": 0.0}}) is None
    assert unreadable_warning({}) is None
