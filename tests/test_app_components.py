"""The workbench's pure pieces: span checks, the key log, the form's starting values, escaping, caches."""
from __future__ import annotations

import pytest

from workbench import runtime
from workbench.components import label_form, shortcuts, turn_view
from workbench.components.span_selector import check_spans, new_actions, spans_from_state

ZH = "退款 🙂 订单12345"


def test_check_spans_counts_code_points_not_utf16_units():
    assert ZH[5:12] == "订单12345"
    assert check_spans(ZH, [{"start": 5, "end": 12, "label": "order_id"}]) == [
        {"start": 5, "end": 12, "label": "order_id"}]
    # In UTF-16 the emoji takes two units, so the same span would end at 13: that is out of range here.
    with pytest.raises(ValueError, match=r"expected 0 <= start < end <= 12 \(code points\), got 6\.\.13"):
        check_spans(ZH, [{"start": 6, "end": 13, "label": "order_id"}])


@pytest.mark.parametrize("span, message", [
    ({"start": 3, "end": 3, "label": "x"}, "got 3..3"),
    ({"start": -1, "end": 2, "label": "x"}, "got -1..2"),
    ({"start": 0, "label": "x"}, "expected {start, end, label}"),
    ({"start": "a", "end": 2, "label": "x"}, "expected {start, end, label}"),
])
def test_check_spans_rejects_bad_spans_with_expected_and_actual(span, message):
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")):
        check_spans(ZH, [span])


def test_check_spans_rejects_unknown_entity_types():
    with pytest.raises(ValueError, match="'city' is not one of"):
        check_spans(ZH, [{"start": 0, "end": 2, "label": "city"}], ["order_id"])


def test_spans_from_state_ignores_a_state_of_an_older_revision():
    mine = [{"start": 0, "end": 2, "label": "a"}]
    browser = {"rev": 1, "spans": [{"start": 5, "end": 12, "label": "b"}]}
    assert spans_from_state(browser, rev=1, fallback=mine) == browser["spans"]
    assert spans_from_state(browser, rev=2, fallback=mine) == mine
    assert spans_from_state(None, rev=0, fallback=mine) == mine


def test_new_actions_returns_unseen_entries_in_order_and_skips_junk():
    state = {"log": [[3, "submit", {"rev": 0, "spans": []}], [1, "intent", 0], [2, "sentiment", "neutral"],
                     ["x", "intent", 1], [4], "junk"]}
    assert [(seq, name) for seq, name, _ in new_actions(state, after=0)] == [(1, "intent"), (2, "sentiment"),
                                                                             (3, "submit")]
    assert [seq for seq, _, _ in new_actions(state, after=2)] == [3]
    assert new_actions(None, after=0) == [] and new_actions({"log": None}, after=0) == []


def test_quick_intent_keys_are_digits_one_to_nine_then_zero():
    assert [shortcuts.quick_intent_key(i) for i in range(11)] == [*"123456789", "0", None]


def test_sentiment_keys_avoid_streamlits_own_keys_and_the_command_keys():
    keys = shortcuts.sentiment_keys(["a", "b", "c", "d", "e", "f"])
    taken = {k.lower() for k in shortcuts.command_keys()} | {shortcuts.ALIGNED_KEY, shortcuts.MISALIGNED_KEY,
                                                             shortcuts.CORRECT_RESPONSE_KEY, "r", "c"}
    assert len(keys) == 5 and not set(keys) & taken


def test_every_shortcut_is_documented():
    documented = " ".join(keys for keys, _ in shortcuts.shortcut_rows(["negative", "neutral", "positive"]))
    for key in [*shortcuts.command_keys(), "Q", "G", "M", "/", "C"]:
        assert key.upper() in documented.upper()


def test_initial_values_prefer_the_turns_earlier_labels_then_the_suggestion():
    prior = {"intents": ["a"], "entities": [], "sentiment": "neutral", "aligned": True, "corrected_response": None}
    suggestion = {"intents": ["b"], "entities": [{"start": 0, "end": 1, "label": "x", "score": 0.9}],
                  "sentiment": "negative", "aligned": False}
    assert label_form.initial_values(prior, suggestion, prefill=True) == (prior, True)
    values, restored = label_form.initial_values(None, suggestion, prefill=True)
    assert not restored and values["intents"] == ["b"] and values["entities"] == [{"start": 0, "end": 1, "label": "x"}]
    values, _ = label_form.initial_values(None, suggestion, prefill=False)
    assert values["intents"] == [] and values["sentiment"] is None


def test_problems_ask_for_an_intent_and_flag_retired_names():
    schema = {"intents": ["a", "b"], "sentiments": ["neutral"]}
    assert label_form.problems({"intents": [], "sentiment": "neutral"}, schema)
    assert not label_form.problems({"intents": ["a"], "sentiment": "neutral"}, schema)
    assert "Unknown intent(s) ['z']" in " ".join(label_form.problems({"intents": ["z"]}, schema))


def test_chat_bubbles_escape_dialog_text():
    text = '<script>alert(1)</script><img src=x onerror="x()"> ![i](http://127.0.0.1:9/i.png)'
    html_out = turn_view.chat_html([{"speaker": "user", "text": text}])
    assert "<script>" not in html_out and "<img" not in html_out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;x()&quot;&gt;" in html_out
    assert 'data-speaker="user"' in turn_view.message_html('user', 'hi')
    assert "&lt;b&gt;" in turn_view.message_html('<b>', 'x', who=None)


def test_suggestion_banner_escapes_model_and_data_names():
    banner = label_form.suggestion_html({"intents": ["<b>x</b>"], "intent_probs": {"<b>x</b>": 0.87},
                                         "sentiment": "<i>", "source": "<script>"})
    assert "<script>" not in banner and "&lt;b&gt;x&lt;/b&gt;</b> 87%" in banner


def test_cached_reuses_within_the_ttl_and_forget_drops_by_prefix():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    runtime.forget()
    assert runtime.cached(("t", 1), 60, compute) == 1
    assert runtime.cached(("t", 1), 60, compute) == 1
    assert runtime.cached(("t", 1), 0, compute) == 2
    runtime.forget("t")
    assert runtime.cached(("t", 1), 60, compute) == 3


def test_settings_come_from_script_arguments_before_the_environment():
    env = {runtime.ENV_DB: "/env.duckdb", runtime.ENV_PROJECT: "envp"}
    assert runtime.parse_settings(["--db", "/arg.duckdb"], env) == runtime.Settings("/arg.duckdb", "envp")
    assert runtime.parse_settings([], env) == runtime.Settings("/env.duckdb", "envp")
    assert runtime.parse_settings([], {}).project == runtime.DEFAULT_PROJECT


def test_confusion_axis_labels_escape_tags_but_keep_quotes():
    from workbench.components.analysis import confusion_figure

    names = ['say "hi"', "<img src=x onerror=y()>"]
    fig = confusion_figure({"labels": names, "matrix": [[1, 1], [0, 2]]}, title="t")
    shown = set(fig.data[0].x) | set(fig.data[0].y)
    assert 'say "hi"' in shown                              # Plotly would print &quot; literally
    assert "&lt;img src=x onerror=y()&gt;" in shown and not any("<img" in s for s in shown)
