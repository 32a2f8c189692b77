"""A label chosen in "Relabel to a label you choose" belongs to the row it was chosen on. The browser keeps a
widget's value for as long as the widget's id stays the same, and sends it back on every rerun unless the
server sets a value itself (``set_value``). With one key for every row, the server deleted the choice but the
browser kept it. After one relabel, the next row's box still held the old label, and the first rerun made
it live for the new turn: one click stored a gold label nobody chose for that turn. AppTest resends what the
server holds, so ``browser_rerun`` does what the browser does."""
from __future__ import annotations

from app_testkit import texts
from store import analysis
import test_analysis_pages
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db      # label errors lists x2 and x7: given greeting, run-a suggests cancel_order

CHOICE_LABEL = "Relabel to a label you choose"


def choice_box(at):
    boxes = [box for box in at.selectbox if box.label == CHOICE_LABEL]
    assert len(boxes) == 1, [box.label for box in at.selectbox]
    return boxes[0]


class Browser:
    """What the browser holds for the select boxes, by widget id: it keeps a box's value while the box is
    drawn again with the same id, unless the server set the value (``set_value``); a new id starts from
    what the server drew. ``rerun`` sends those values back, as every browser rerun does."""

    def __init__(self, at):
        self.values: dict = {}
        self.sync(at)

    def sync(self, at) -> None:
        self.values = {box.id: self.values[box.id] if box.id in self.values and not box.proto.set_value
                       else box.value for box in at.selectbox}

    def choose(self, at, value) -> None:
        box = choice_box(at)
        box.set_value(value)
        self.values[box.id] = value

    def shown(self, at):
        return self.values[choice_box(at).id]

    def rerun(self, at):
        for box in at.selectbox:
            box.set_value(self.values[box.id])
        at.run()
        self.sync(at)
        return at


def shown_turn(at) -> str:
    return at.dataframe[0].value["turn_id"].iloc[0]      # nothing ticked: the page shows the first row


def test_a_label_chosen_on_one_row_is_not_live_on_the_next(app_db):
    at = page_as("label_errors", "ana")
    browser, first = Browser(at), shown_turn(at)
    browser.choose(at, "cancel_order")
    browser.rerun(at)
    assert not at.button(key="errors_fix_relabel_chosen").disabled
    at.button(key="errors_fix_relabel_chosen").click()
    browser.rerun(at)
    assert not at.exception, at.exception
    assert analysis.current_labels(app_db, "default", [first])[first]["intents"] == ["cancel_order"]
    second = shown_turn(at)
    assert second != first                                      # the fixed row left the list
    browser.rerun(at)                                           # any rerun that keeps the row (a tick, a click)
    assert not at.exception, at.exception
    assert "Relabel to the chosen label: off: choose a label first" in texts(at)
    assert at.button(key="errors_fix_relabel_chosen").disabled
    assert browser.shown(at) is None and choice_box(at).value is None      # the new row's box is empty
    assert analysis.current_labels(app_db, "default", [second])[second]["source"] != "adjudicated"


def test_the_choice_still_relabels_the_row_it_was_made_on(app_db):
    at = page_as("label_errors", "ana")
    browser, first = Browser(at), shown_turn(at)
    browser.choose(at, "product_question")
    browser.rerun(at)
    browser.rerun(at)                                           # reruns on the same row keep the choice
    assert browser.shown(at) == choice_box(at).value == "product_question"
    at.button(key="errors_fix_relabel_chosen").click().run()
    assert not at.exception, at.exception
    assert analysis.current_labels(app_db, "default", [first])[first]["intents"] == ["product_question"]
