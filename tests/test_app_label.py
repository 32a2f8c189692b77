"""The label page through AppTest: label a turn, skip, undo, flag, accept suggestions, repeated submits.

Each test signs in through the real form and checks what the store holds afterwards, so a page that
only looks right cannot pass.
"""
from __future__ import annotations

import pytest

from app_testkit import TURNS, add_model_suggestion, make_template, open_copy, signed_in, texts
from store import annotations
from workbench import runtime
from workbench.views import label as label_page


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("label-template"), users=("ann", "ana"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def open_form(at):
    assert label_page.FORM_KEY in at.session_state, "no turn is shown"
    return at.session_state[label_page.FORM_KEY]


def label_current(at, *, intents, sentiment="neutral", aligned=True, corrected=None):
    """Fill the form with widgets and press Submit; returns the form that was submitted. A submit needs
    a sentiment and the response's fit, so those default to a complete label."""
    form = open_form(at)
    at.multiselect(key=form.key("intents")).set_value(intents)
    if sentiment is not None:
        at.segmented_control(key=form.key("sentiment")).set_value(sentiment)
    if aligned is not None:
        at.segmented_control(key=form.key("aligned")).set_value(aligned)
    if corrected is not None:
        at.text_area(key=form.key("corrected")).input(corrected)
    at.button(key=form.key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    return form


def live_submits(db, turn_id):
    return [h for h in annotations.history(db, turn_id) if h["action"] == "submit"]


def test_labelling_a_turn_stores_it_and_shows_the_next(app_db):
    at = signed_in("ann")
    assert not at.exception
    first = label_current(at, intents=["track_order", "greeting"], sentiment="negative", aligned=False,
                          corrected="Your order ships tomorrow.")
    state = annotations.turn_state(app_db, first.turn_id, annotator="ann")
    assert state["intents"] == ["track_order", "greeting"]
    assert state["sentiment"] == "negative" and state["aligned"] is False
    assert state["corrected_response"] == "Your order ships tomorrow."
    assert "Saved." in texts(at)
    second = open_form(at)
    assert second.turn_id != first.turn_id and second.form_id != first.form_id
    assert at.multiselect(key=second.key("intents")).value == []


def test_submit_without_an_intent_is_refused_and_keeps_the_turn(app_db):
    at = signed_in("ann")
    form = open_form(at)
    at.session_state[label_page.PREFILL_KEY] = False
    at.multiselect(key=form.key("intents")).set_value([])
    at.button(key=form.key("submit")).click()
    at.run()
    assert "Pick at least one intent" in texts(at)
    assert open_form(at).form_id == form.form_id
    assert live_submits(app_db, form.turn_id) == []


def test_skip_moves_on_and_the_turn_does_not_come_back(app_db):
    at = signed_in("ann")
    skipped = open_form(at)
    at.button(key=skipped.key("skip")).click()
    at.run()
    seen = [open_form(at).turn_id]
    assert seen[0] != skipped.turn_id
    assert [h["action"] for h in annotations.history(app_db, skipped.turn_id)] == ["skip"]
    while label_page.FORM_KEY in at.session_state:
        seen.append(label_current(at, intents=["greeting"]).turn_id)
    assert skipped.turn_id not in seen
    assert "Your queue is empty" in texts(at)


def test_undo_restores_the_turn_and_its_previous_state(app_db):
    at = signed_in("ann")
    first = label_current(at, intents=["greeting"], sentiment="positive")
    at.button(key=f"label-undo-{at.session_state[label_page.UNDO_KEY]}").click()
    at.run()
    back = open_form(at)
    assert back.turn_id == first.turn_id
    assert annotations.turn_state(app_db, first.turn_id, annotator="ann") is None
    # The store holds no live label, but the form comes back with what was submitted, to fix and resubmit.
    assert at.multiselect(key=back.key("intents")).value == ["greeting"]
    assert at.segmented_control(key=back.key("sentiment")).value == "positive"
    # Label it differently, then a second turn; undo again takes back only the second.
    relabelled = label_current(at, intents=["track_order"])
    second = label_current(at, intents=["return_item"])
    at.button(key=f"label-undo-{at.session_state[label_page.UNDO_KEY]}").click()
    at.run()
    assert open_form(at).turn_id == second.turn_id
    assert annotations.turn_state(app_db, relabelled.turn_id, annotator="ann")["intents"] == ["track_order"]
    assert annotations.turn_state(app_db, second.turn_id, annotator="ann") is None


def test_undo_after_relabelling_restores_the_earlier_labels(app_db):
    at = signed_in("ann")
    first = label_current(at, intents=["greeting"])
    undo = lambda: (at.button(key=f"label-undo-{at.session_state[label_page.UNDO_KEY]}").click(), at.run())
    undo()
    label_current(at, intents=["track_order"])         # the same turn, relabelled
    assert annotations.turn_state(app_db, first.turn_id, annotator="ann")["intents"] == ["track_order"]
    undo()
    back = open_form(at)
    assert back.turn_id == first.turn_id
    # "greeting" was undone earlier, so the state before "track_order" is no label by ann at all;
    # the form shows the submit just undone.
    assert annotations.turn_state(app_db, first.turn_id, annotator="ann") is None
    assert at.multiselect(key=back.key("intents")).value == ["track_order"]


def test_a_repeated_submit_of_the_same_form_is_stored_once(app_db):
    at = signed_in("ann")
    form = open_form(at)
    at.multiselect(key=form.key("intents")).set_value(["greeting"])
    at.run()
    # Replay: the same form (same client-minted id) submitted again after the page moved on, as a
    # retried request or a refresh would.
    at.button(key=form.key("submit")).click()
    at.run()
    assert len(live_submits(app_db, form.turn_id)) == 1
    at.session_state[label_page.FORM_KEY] = form       # the same form object, intents=["greeting"]
    at.run()
    at.button(key=form.key("submit")).click()
    at.run()
    assert not at.exception
    assert "Already saved" in texts(at)
    assert len(live_submits(app_db, form.turn_id)) == 1
    assert open_form(at).turn_id != form.turn_id


def _double_click_script(db_path: str):
    """Runs inside an AppTest session: the second click of a double click carries the old form id."""
    import streamlit as st

    from workbench import runtime
    from workbench.auth import User
    from workbench.views import label as page

    db = runtime.get_store(db_path)
    user = User("ann", "annotator")
    if "result" not in st.session_state:
        first = page.claim_and_open(db, user, "default")
        first.intents = ["greeting"]
        page.on_submit(db, user, "default", first.form_id)
        second = page.current_form("default")
        page.on_submit(db, user, "default", first.form_id)       # the late second click
        st.session_state["result"] = (first.turn_id, second.turn_id, page.current_form("default").form_id
                                      == second.form_id)


def test_a_stale_second_click_never_acts_on_the_next_turn(app_db):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_double_click_script, args=(str(app_db.path),), default_timeout=30).run()
    assert not at.exception, at.exception
    first_turn, second_turn, second_still_open = at.session_state["result"]
    assert first_turn != second_turn and second_still_open
    assert len(live_submits(app_db, first_turn)) == 1
    assert live_submits(app_db, second_turn) == []


def test_flag_records_a_flag_and_the_submit_carries_it(app_db):
    at = signed_in("ann")
    form = open_form(at)
    at.button(key=form.key("flag")).click()
    at.run()
    assert open_form(at).flagged
    flags = [h for h in annotations.history(app_db, form.turn_id) if h["action"] == "flag"]
    assert len(flags) == 1
    label_current(at, intents=["greeting"])
    assert live_submits(app_db, form.turn_id)[0]["flagged"] is True


def test_accept_suggestions_fills_intents_spans_sentiment(tmp_path, monkeypatch):
    suggested = [t for t in TURNS if t["id"] == "t-sug"]
    template = make_template(tmp_path / "tpl", turns=suggested, users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    try:
        at = signed_in("ann")
        at.session_state[label_page.PREFILL_KEY] = False
        at.session_state[label_page.FORM_KEY] = None       # reopen the leased turn without pre-fill
        at.run()
        form = open_form(at)
        assert at.multiselect(key=form.key("intents")).value == []
        at.button(key=form.key("accept")).click()
        at.run()
        assert at.multiselect(key=form.key("intents")).value == ["cancel_order"]
        at.button(key=form.key("submit")).click()
        at.run()
        state = annotations.turn_state(db, "t-sug", annotator="ann")
        assert state["intents"] == ["cancel_order"] and state["sentiment"] == "negative"
        assert state["entities"] == [{"start": 13, "end": 15, "label": "order_id"}]
    finally:
        runtime.close_stores()


def test_two_annotators_never_get_the_same_turn(app_db):
    ann, ana = signed_in("ann"), signed_in("ana").switch_page("views/label.py").run()   # analysts land on Pipeline
    assert open_form(ann).turn_id != open_form(ana).turn_id




def _key_log_script(db_path: str):
    """Runs inside an AppTest session: keys arrive as the span selector's log, then a submit."""
    import streamlit as st

    from workbench import runtime
    from workbench.auth import User
    from workbench.views import label as page

    db = runtime.get_store(db_path)
    user = User("ann", "annotator")
    if "result" in st.session_state:
        return
    form = page.claim_and_open(db, user, "default")
    form.intents = []                                          # whatever a suggestion pre-filled
    text = form.turn["text"]
    span = {"start": 0, "end": 2, "label": "order_id"}
    log = [[1, "intent", 1], [2, "intent", 0], [3, "intent", 1], [4, "sentiment", "positive"],
           [5, "aligned", False], [6, "flag", None], [7, "submit", {"rev": 0, "spans": [span]}],
           [8, "intent", 4]]                                   # pressed after the submit: dropped
    st.session_state[form.key("span")] = {"actions": {"log": log[:3]}}
    page.on_keys(db, user, "default", form.form_id)            # the first keys arrive in one run...
    after_first = (list(form.intents), form.last_seq)
    st.session_state[form.key("span")] = {"actions": {"log": log}}
    page.on_keys(db, user, "default", form.form_id)            # ...the rest (and the old ones again) later
    st.session_state["result"] = (form.turn_id, text[:2], after_first, page.current_form("default").turn_id)


def test_keys_from_the_span_selector_apply_in_order_once_and_submit(app_db):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_key_log_script, args=(str(app_db.path),), default_timeout=30).run()
    assert not at.exception, at.exception
    turn_id, _, (intents_after_first, seq_after_first), next_turn = at.session_state["result"]
    # schema order: track_order, return_item, greeting...: return_item on, track_order on, return_item off
    assert intents_after_first == ["track_order"] and seq_after_first == 3
    state = annotations.turn_state(app_db, turn_id, annotator="ann")
    assert state["intents"] == ["track_order"] and state["sentiment"] == "positive" and state["aligned"] is False
    assert state["entities"] == [{"start": 0, "end": 2, "label": "order_id"}]
    assert live_submits(app_db, turn_id)[0]["flagged"] is True
    assert next_turn != turn_id
    assert [h["action"] for h in annotations.history(app_db, next_turn)] == []


def test_sixty_intents_are_all_searchable_and_the_first_ten_have_digit_keys(tmp_path, monkeypatch):
    from app_testkit import SCHEMA_YAML

    many = [f"intent_{i:02d}" for i in range(60)]
    monkeypatch.setattr("app_testkit.SCHEMA_YAML", SCHEMA_YAML.replace(
        "intents: [track_order, return_item, greeting, cancel_order, product_question]", f"intents: {many}"))
    template = make_template(tmp_path / "tpl", users=("ann",))
    open_copy(template, tmp_path, monkeypatch)
    try:
        at = signed_in("ann")
        box = at.multiselect(key=open_form(at).key("intents"))
        names = [option.split(" · ")[-1] for option in box.options]
        assert names[:60] == many                         # (+ cancel_order, added by the imported suggestion)
        assert box.options[:2] == ["1 · intent_00", "2 · intent_01"] and box.options[9] == "0 · intent_09"
        assert box.options[10] == "intent_10"
        box.set_value(["intent_42", "intent_07"])
        at.button(key=open_form(at).key("submit")).click()
        at.run()
        assert "Saved." in texts(at)
    finally:
        runtime.close_stores()


def _suggestion_banner(at) -> str:
    import html

    return next(html.unescape(e.proto.body) for e in at.get("html") if "<b>Suggestion</b>" in e.proto.body)


@pytest.mark.parametrize("top", [0.32, 0.8])
def test_the_banner_marks_exactly_what_prefill_and_accept_take(tmp_path, monkeypatch, top):
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-en"], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    add_model_suggestion(db, "t-en", intents=["return_item"],
                         probs={"return_item": top, "track_order": 0.3, "greeting": 0.02, "cancel_order": 0.0})
    try:
        at = signed_in("ann")
        form = open_form(at)
        confident = top >= 0.5
        assert at.multiselect(key=form.key("intents")).value == (["return_item"] if confident else [])
        banner = _suggestion_banner(at)
        assert ("<b>return_item</b>" in banner) is confident
        assert ("no intent confident enough to pre-fill" in banner) is not confident
        assert "track_order 30%" in banner and "<b>track_order</b>" not in banner
        assert "greeting" not in banner and "cancel_order" not in banner          # below the 5% floor
        at.multiselect(key=form.key("intents")).set_value([])
        at.run()
        at.button(key=open_form(at).key("accept")).click()
        at.run()
        form = open_form(at)
        assert at.multiselect(key=form.key("intents")).value == (["return_item"] if confident else [])
    finally:
        runtime.close_stores()


def _quick_keys_script(db_path: str):
    """Runs inside an AppTest session: digits 1 and 0 arrive through the span selector's key log."""
    import streamlit as st

    from workbench import runtime
    from workbench.auth import User
    from workbench.views import label as page

    db = runtime.get_store(db_path)
    user = User("ann", "annotator")
    if "result" not in st.session_state:
        form = page.claim_and_open(db, user, "default")
        st.session_state[form.key("span")] = {"actions": {"log": [[1, "intent", 0], [2, "intent", 9]]}}
        page.on_keys(db, user, "default", form.form_id)
        st.session_state["result"] = list(form.intents)


def test_digit_keys_follow_the_schema_order_and_stay_put_during_a_session(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_testkit import SCHEMA_YAML

    many = [f"intent_{i:02d}" for i in range(18)]
    monkeypatch.setattr("app_testkit.SCHEMA_YAML", SCHEMA_YAML.replace(
        "intents: [track_order, return_item, greeting, cancel_order, product_question]", f"intents: {many}"))
    template = make_template(tmp_path / "tpl", users=("ann",), with_suggestions=False)
    db = open_copy(template, tmp_path, monkeypatch)
    for turn_id, intents in (("t-zh", ["intent_15"]), ("t-en", ["intent_15", "intent_12"])):
        annotations.adjudicate(db, annotation_id=f"adj-{turn_id}", turn_id=turn_id, project="default",
                               reviewer="rev", intents=intents)
    expected = many[:10]                          # the schema's order, whatever is used most
    try:
        at = signed_in("ann")
        form = open_form(at)
        options = at.multiselect(key=form.key("intents")).options
        assert options[:3] == ["1 · intent_00", "2 · intent_01", "3 · intent_02"] and options[9] == "0 · intent_09"
        assert options[10] == "intent_10" and len(options) == 18
        for key, name in (("1", "intent_00"), ("2", "intent_01"), ("3", "intent_02")):   # the keyboard help
            assert f"<kbd>{key}</kbd></div><div class='cc-v'>{name}</div>" in texts(at)   # says so, a row a key
        keys = AppTest.from_function(_quick_keys_script, args=(str(db.path),), default_timeout=30).run()
        assert not keys.exception, keys.exception
        assert keys.session_state["result"] == ["intent_00", "intent_09"]           # digits 1 and 0
        # Labels given during the session do not move the keys under the annotator's fingers.
        for _ in range(2):
            label_current(at, intents=["intent_17"])
        assert at.multiselect(key=open_form(at).key("intents")).options[:10] == [
            f"{k} · {name}" for k, name in zip("1234567890", expected)]
    finally:
        runtime.close_stores()
