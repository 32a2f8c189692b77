"""What the label page does to its open form: open a turn (with this annotator's earlier labels or
draft), and the button and key callbacks that submit, skip, flag, undo and accept.

Every action is a button callback, so it runs before the page is drawn and without interruption:
the write is committed (``Store.write`` returns after COMMIT) before the next turn is claimed and
shown. Callbacks carry the form id they were drawn for and ignore themselves when it is no longer
the open form, so a double click or a late keypress never acts on the next turn. The page that draws
the form is ``workbench.views.label``.
"""
from __future__ import annotations

import time
import uuid

import streamlit as st

from store import annotations, drafts, labels, queue
from store import recent_labels as recent_labels_store
from store.annotations import SubmitRefused, TurnTaken
from workbench import auth, runtime
from workbench.components import intent_guard, label_form, progress, shortcuts
from workbench.components.label_form import LabelForm
from workbench.components.recent_labels import snippet
from workbench.components.span_selector import new_actions

FORM_KEY = "label_form"
FLASH_KEY = "label_flash"
EDITING_KEY = "label_editing_form"     # the form id Edit in "My recent labels" opened (its submit is an edit)
UNDO_KEY = "label_undo_id"
PREFILL_KEY = "label_prefill"
SUBMIT_CLOCK_KEY = "label_submit_clock"
FLAG_PRESSES_KEY = "label_flag_presses"   # per form: how many times its flag was set or taken back
GUIDE_KEY = "label_guide_open"          # the guidelines expander's open state (the ? key toggles it)
LEASE_TTL_S = 300
SETTLED_EDIT_MESSAGE = ("A reviewer has settled that turn's label since you submitted it, so it can no longer be "
                        "edited; your open turn is unchanged.")


# -- reads ----------------------------------------------------------------------------------------
def schema_of(db, project: str) -> dict:
    """The label schema, re-read at most every few seconds (admins' edits show up that fast)."""
    return runtime.cached(("schema", db.path, project), 5.0, lambda: labels.get_schema(db, project))


def intent_limit_of(db, project: str) -> int:
    """The too-many-intents ceiling (``intent_guard.intent_limit``), re-read at most every minute."""
    return runtime.cached(("intent_limit", db.path, project), 60.0,
                          lambda: intent_guard.intent_limit(annotations.largest_intent_set(db, project)))


def quick_intents_of(db, project: str, schema: dict) -> list[str]:
    """The intents on the digit keys: the schema's first ten, in its order. Usage counts are not
    used: they differ between annotators and change with every label, so a key would mean another
    intent after a reload or for a colleague; the schema's order changes only when the admin edits it."""
    return shortcuts.quick_intents(list(schema["intents"]))


# -- session state ------------------------------------------------------------------------------
def current_form(project: str) -> LabelForm | None:
    form = st.session_state.get(FORM_KEY)
    return form if isinstance(form, LabelForm) and form.project == project else None


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH_KEY] = (kind, message)


def _schema_filtered(db, project: str, state: dict | None) -> dict | None:
    """An earlier state with renamed labels read as today's names and retired ones dropped."""
    if not state:
        return state
    schema = schema_of(db, project)
    intent_names = labels.rename_map(db, project, "intent")
    entity_names = labels.rename_map(db, project, "entity")
    intents = [intent_names.get(i, i) for i in state.get("intents") or []]
    spans = [{**s, "label": entity_names.get(s["label"], s["label"])} for s in state.get("entities") or []]
    return {
        **state,
        "intents": [i for i in dict.fromkeys(intents) if i in schema["intents"]],
        "entities": [s for s in spans if s["label"] in schema["entities"]],
        "sentiment": state.get("sentiment") if state.get("sentiment") in schema["sentiments"] else None,
    }


def without_unreadable_suggestion(turn: dict) -> dict:
    """The turn without a model suggestion its run's encoder could not read (``encoder_reads`` False):
    that prediction is the model's answer to mostly [UNK], not to this text ("好，再见。" got greeting
    90%), so it is neither pre-filled, dotted, taken by A nor listed (a listed guess still anchors).
    ``unread_suggestion`` keeps it, so the page can say why there is none."""
    suggestion = turn.get("suggestion")
    if suggestion and suggestion.get("encoder_reads") is False:
        return {**turn, "suggestion": None, "unread_suggestion": suggestion}
    return turn


def without_fit_suggestion(turn: dict) -> dict:
    """The turn without its suggested response fit when it shows no response: there is nothing to
    judge, so the fit is neither pre-filled, shown in the banner nor taken by A."""
    suggestion = turn.get("suggestion")
    if suggestion and suggestion.get("aligned") is not None and not label_form.has_response(turn):
        return {**turn, "suggestion": {**suggestion, "aligned": None}}
    return turn


def draft_saver(db, user: auth.User, project: str, turn_id: str, drawn: dict):
    """Where the open form keeps its unsaved values (store.drafts), so a reload does not lose them.
    Values equal to ``drawn`` (what the form showed before any draft: the earlier label, the pre-filled
    suggestion or nothing) are no draft: the row goes, or the turn, left untouched or changed back
    (e.g. by Edit in "My recent labels"), would come back saying "draft restored"."""
    who = dict(project=project, turn_id=turn_id, annotator=user.username)

    def keep(values: dict) -> None:
        if drafts.same_values(values, drawn):
            drafts.delete_draft(db, **who)
        else:
            drafts.save_draft(db, values=values, **who)
    return keep


def open_turn(db, user: auth.User, project: str, turn: dict | None, *, editing: bool = False) -> LabelForm | None:
    """Make ``turn`` the open form: the newer of this annotator's live label and what they submitted
    before an undo (so undo means "let me fix that one", also when it took back an edit), else the
    suggestion; ``editing`` (Edit in the list): their live label. Flagged if this annotator's flag
    of it stands (a reload is a new session: the flag was stored but shown as absent, and F flagged
    it again instead of taking it back)."""
    old = st.session_state.pop(FORM_KEY, None)
    if isinstance(old, LabelForm):
        label_form.close_form(old)
    if turn is None:
        return None
    earlier = (annotations.turn_state(db, turn["turn_id"], annotator=user.username) if editing
               else annotations.reopened_state(db, turn["turn_id"], annotator=user.username))
    prior = _schema_filtered(db, project, earlier)
    turn = without_fit_suggestion(without_unreadable_suggestion(turn))
    draft = _schema_filtered(db, project, drafts.load_draft(db, project=project, turn_id=turn["turn_id"],
                                                            annotator=user.username))
    form = label_form.open_form(turn, project, prior=prior, prefill=st.session_state.get(PREFILL_KEY, True))
    drawn = label_form.draft_values(form)          # before the draft: a draft is what differs from this
    if draft:
        label_form.apply_draft(form, draft)
    form.draft_saver = draft_saver(db, user, project, turn["turn_id"], drawn)
    form.flagged = annotations.open_flag(db, turn["turn_id"], user.username) is not None
    st.session_state[FORM_KEY] = form
    return form


def claim_and_open(db, user: auth.User, project: str) -> LabelForm | None:
    turn = queue.claim_next(db, project, user.username, ttl_s=LEASE_TTL_S)
    return open_turn(db, user, project, turn)


# -- actions (button callbacks) -----------------------------------------------------------------
def _is_open(project: str, form_id: str) -> LabelForm | None:
    form = current_form(project)
    return form if form is not None and form.form_id == form_id else None


def on_submit(db, user: auth.User, project: str, form_id: str, spans_snapshot: dict | None = None) -> None:
    form = _is_open(project, form_id)
    if form is None:
        return
    st.session_state[SUBMIT_CLOCK_KEY] = time.perf_counter()
    values = label_form.collect(form, spans_snapshot)
    schema = schema_of(db, project)
    found = label_form.problems(values, schema, turn=form.turn, intent_limit=intent_limit_of(db, project))
    if found:
        flash("warning", " ".join(found))
        return
    if store_submit(db, user, project, form, values):
        drafts.delete_draft(db, project=project, turn_id=form.turn_id, annotator=user.username)
        claim_and_open(db, user, project)


def store_submit(db, user: auth.User, project: str, form: LabelForm, values: dict) -> bool:
    """Store the form's labels and say what happened. True when the page should move on: after a
    save, and after a refusal because the turn went to others (their lease is gone, so the next claim
    is a new turn); False keeps the form open to fix what was refused (e.g. spans)."""
    try:
        outcome = annotations.record_submit(
            db, annotation_id=form.form_id, turn_id=form.turn_id, project=project, annotator=user.username,
            flagged=form.flagged, duration_ms=int((time.time() - form.opened_at) * 1000), **values)
    except TurnTaken as exc:
        flash("warning", str(exc))
        progress.count_own(db, project, user.username, 0, left=-1)
        return True
    except SubmitRefused as exc:
        flash("error", str(exc))
        return False
    editing = st.session_state.get(EDITING_KEY) == form.form_id
    flash("success", saved_message(outcome, (form.turn or {}).get("text"), editing=editing))
    if outcome.stored:
        progress.count_own(db, project, user.username, +1, values["intents"], replaced=outcome.replaced)
    return True


def saved_message(outcome: annotations.SubmitOutcome, turn_text: str | None = None, *, editing: bool = False) -> str:
    """What a submit did. A replacing submit quotes the start of the turn it replaced: the page has moved
    on to the next turn by the time this shows above it, and "You had already labelled this turn" read as
    being about the turn on screen. The flash is drawn with ``notice`` (escaped HTML), so quoting the
    turn's text is safe."""
    if not outcome.stored:
        return "Already saved (repeated submit ignored)."
    if outcome.replaced is not None:
        quoted = f'"{snippet(turn_text)}"'
        return (f"Your edit of {quoted} is saved; your new labels replace the earlier ones." if editing
                else f"You had already labelled {quoted}; your new labels replace the earlier ones.")
    if outcome.lease_lapsed:
        about = f' of "{snippet(turn_text)}"' if turn_text else ""
        return (f"Saved. Your hold on the turn you just submitted{about} had lapsed while you were away; nobody "
                "else had taken it, so your labels were kept.")
    return "Saved."


def on_skip(db, user: auth.User, project: str, form_id: str) -> None:
    form = _is_open(project, form_id)
    if form is None:
        return
    drafts.delete_draft(db, project=project, turn_id=form.turn_id, annotator=user.username)
    if annotations.turn_state(db, form.turn_id, annotator=user.username) is not None:
        # An earlier label reopened with Edit: leaving it keeps that label; a skip row would count
        # a labelled turn among "You skipped N turn(s)".
        queue.release(db, form.turn_id, user.username)
        flash("info", "Left unchanged: your earlier label of that turn stands.")
    else:
        if annotations.skip(db, annotation_id=form.form_id, turn_id=form.turn_id, project=project,
                            annotator=user.username):
            progress.count_own(db, project, user.username, 0, left=-1)
        flash("info", "Skipped.")
    claim_and_open(db, user, project)


def flag_presses(form: LabelForm) -> int:
    return (st.session_state.get(FLAG_PRESSES_KEY) or {}).get(form.form_id, 0)


def flag_button_key(form: LabelForm) -> str:
    """A new key after each press, so a click drawn before the last press is a stale widget."""
    presses = flag_presses(form)
    return form.key("flag") if presses == 0 else form.key(f"flag-{presses}")


def on_flag(db, user: auth.User, project: str, form_id: str, presses: int | None = None) -> None:
    """F (or the Flag / Unflag button) toggles the flag: a second press takes a mis-pressed flag back
    as an ``unflag`` row, so history keeps both. A button click carries the press count it was drawn
    for and is ignored once stale (a double click toggles once); each press stores under its own id."""
    form = _is_open(project, form_id)
    if form is None or (presses is not None and presses != flag_presses(form)):
        return
    n = flag_presses(form)
    annotation_id = form.flag_id if n == 0 else f"{form.flag_id}:{n}"
    st.session_state[FLAG_PRESSES_KEY] = {form.form_id: n + 1}       # only the open form's count is kept
    who = dict(turn_id=form.turn_id, project=project, annotator=user.username)
    if form.flagged:
        annotations.unflag(db, annotation_id=annotation_id, **who)
        form.flagged = False
        flash("info", "Flag removed.")
    else:
        annotations.flag(db, annotation_id=annotation_id, **who)
        form.flagged = True
        flash("info", "Flagged for review. Label it as well as you can, or skip it. Press F again to take it back.")


def on_revisit(db, user: auth.User, project: str) -> None:
    """Give this annotator their skipped turns back (the empty queue's button)."""
    count = annotations.revisit_skipped(db, project=project, annotator=user.username)
    progress.forget(db, project, user.username)
    if claim_and_open(db, user, project) is None:
        flash("info", "None of your skipped turns is open any more: other annotators have labelled them.")
    else:
        flash("info", f"{count} skipped turn(s) are back in your queue.")


def on_undo(db, user: auth.User, project: str, undo_id: str) -> None:
    if st.session_state.get(UNDO_KEY) != undo_id:
        return
    st.session_state[UNDO_KEY] = str(uuid.uuid4())
    turn_id = annotations.undo_last(db, annotation_id=undo_id, project=project, annotator=user.username)
    if turn_id is None:
        flash("info", "Nothing to undo.")
        return
    from store import turns

    progress.forget(db, project, user.username)     # an undone edit brings the earlier label back: re-read
    open_turn(db, user, project, turns.get_turn(db, turn_id))
    flash("info", undone_message(annotations.turn_state(db, turn_id, annotator=user.username) is not None))


def undone_message(edit_taken_back: bool) -> str:
    """What undo did. Undoing an edit (a resubmit that replaced an earlier label) takes back the edit
    only: the earlier label is live again, so the page must not say the turn lost its label."""
    if edit_taken_back:
        return ("Undone: your edit is taken back, so your earlier label of this turn stands again. The form "
                "shows what the edit submitted: submit to make that change again, or skip to keep the earlier label.")
    return ("Undone: this turn is back with what you submitted (labels, spans, corrected response); "
            "change what you need and submit again.")


def on_edit(db, user: auth.User, project: str, annotation_id: str) -> None:
    """Edit in "My recent labels": reopen that submit's turn with what was submitted, as undo does for
    the last one. The submit stays live until the new one replaces it. The turn being left loses its
    lease (as after skip or undo) but not its unsaved values: they are saved as its draft first (a
    correction still in its box has not called ``keep_draft`` yet), and come back with the turn. An
    untouched form keeps no draft (``draft_saver``). A turn a reviewer has settled since the list was
    drawn is not reopened: its edit could not be stored (``recent_labels`` lists it without Edit)."""
    if recent_labels_store.submit_settled_by_review(db, annotation_id):
        flash("info", SETTLED_EDIT_MESSAGE)
        return
    form = current_form(project)
    if form is not None:
        label_form.keep_draft(form)
    turn_id = recent_labels_store.reopen_submit(db, annotation_id=annotation_id, project=project, annotator=user.username)
    if turn_id is None:
        flash("info", "That label was undone or replaced since the list was drawn; nothing to edit.")
        return
    if form is not None and form.turn_id == turn_id:
        return                             # already open (a second click on Edit)
    from store import turns

    edited = open_turn(db, user, project, turns.get_turn(db, turn_id), editing=True)
    st.session_state[EDITING_KEY] = edited.form_id if edited is not None else None
    flash("info", "Editing your earlier label: change what you need and submit to replace it "
                  "(skip leaves it as it was)." + (" The turn you left keeps what you had entered."
                                                   if form is not None else ""))


def on_accept(project: str, form_id: str) -> None:
    form = _is_open(project, form_id)
    if form is not None:
        label_form.accept_suggestions(form)


def on_keys(db, user: auth.User, project: str, form_id: str) -> None:
    """Apply the keys logged by the span selector since the last run, in the order they were pressed.

    Keys after one that leaves the turn (submit, skip, undo) were pressed before the next turn was
    on screen and are dropped rather than applied to a turn the annotator has not seen. A key taken
    and ignored (``shortcuts.IGNORED``: G, M, C on a turn without a response) matches no branch.
    """
    form = _is_open(project, form_id)
    if form is None:
        return
    state = st.session_state.get(form.key("span"))
    schema = schema_of(db, project)
    quick = quick_intents_of(db, project, schema)
    for seq, name, value in new_actions(state.get("actions") if isinstance(state, dict) else None,
                                        after=form.last_seq):
        form.last_seq = seq
        if name in ("intent", "sentiment", "aligned"):
            label_form.apply_key_action(form, name, value, schema, quick)
        elif name == "accept":
            label_form.accept_suggestions(form)
        elif name == "flag":
            on_flag(db, user, project, form_id)
        elif name == "guidelines":
            st.session_state[GUIDE_KEY] = not st.session_state.get(GUIDE_KEY, False)
        elif name in ("submit", "skip", "undo"):
            leave_turn(db, user, project, form_id, name, value)
            return


def leave_turn(db, user: auth.User, project: str, form_id: str, name: str, value) -> None:
    if name == "submit":
        on_submit(db, user, project, form_id, value if isinstance(value, dict) else None)
    elif name == "skip":
        on_skip(db, user, project, form_id)
    else:
        on_undo(db, user, project, st.session_state.get(UNDO_KEY))
