"""The Model health page read by an analyst: every non-empty confusion cell is visibly coloured and shows its
count (errors in their own hue, so a 1-turn error is not white on white), undefined per-intent scores are
empty cells (not the text "None"), and the run's held-out intent accuracy and this page's agreement with
today's labels carry two different names and one number format on the Model health and Pipeline pages."""
from __future__ import annotations

import json
import math
import re
import time

import pytest
import test_analysis_multilabel
import test_analysis_pages
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db      # 20 labelled turns and run-a (held-out intent accuracy 0.8), as a fixture
ml_db = test_analysis_multilabel.ml_db   # 6 multi-label turns: cancel_order predicted, never given
PERCENT = re.compile(r"^\d{1,3}\.\d%$")


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(v) for v in re.findall(r"\d+", colour)[:3])


def _luminance(colour: str) -> float:
    """WCAG relative luminance: 1.0 is the white plot background."""
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _cells(spec: dict) -> dict:
    """(given, predicted) -> (count text, fill colour) of a confusion figure's plotted cells."""
    trace = spec["data"][0]
    fills = trace["marker"]["color"]
    return {(y, x): (text, fill) for x, y, text, fill in zip(trace["x"], trace["y"], trace["text"], fills)}


def test_a_one_turn_error_beside_a_full_diagonal_is_coloured_red_and_counted():
    from workbench.components.analysis import confusion_figure

    data = {"labels": ["a", "b", "c"], "matrix": [[200, 1, 0], [0, 35, 3], [0, 0, 0]]}
    cells = _cells(json.loads(confusion_figure(data, title="t").to_json()))
    assert set(cells) == {("a", "a"), ("a", "b"), ("b", "b"), ("b", "c")}      # zero cells are not drawn
    assert {k: v[0] for k, v in cells.items()} == {("a", "a"): "200", ("a", "b"): "1", ("b", "b"): "35",
                                                    ("b", "c"): "3"}
    for (given, predicted), (_, fill) in cells.items():
        red, _, blue = _rgb(fill)
        assert _luminance(fill) < 0.6, (given, predicted, fill)                # visible on white
        assert (red > blue) if given != predicted else (blue > red), (given, predicted, fill)


@pytest.mark.usefixtures("app_db")
def test_the_health_pages_matrix_labels_its_cells_and_still_opens_a_clicked_one():
    at = page_as("health", "ana")
    assert not at.exception, at.exception
    cells = _cells(json.loads(at.get("plotly_chart")[0].proto.spec))
    assert cells[("greeting", "cancel_order")][0] == "2"                     # x2 and x7
    assert cells[("track_order", "track_order")][0] == "4"
    assert _rgb(cells[("greeting", "cancel_order")][1])[0] > _rgb(cells[("greeting", "cancel_order")][1])[2]
    from workbench.components.analysis import selected_cell

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    clicked = spec["customdata"][spec["y"].index("greeting")]
    assert selected_cell({"selection": {"points": [{"customdata": clicked}]}},
                         sorted(["track_order", "return_item", "greeting", "cancel_order", "product_question"])
                         ) == ("greeting", "cancel_order")


@pytest.mark.usefixtures("ml_db")
def test_an_undefined_per_intent_score_is_an_empty_cell_not_none():
    """No turn has cancel_order: its recall and F1 are undefined (NaN), and the table draws them empty."""
    at = page_as("health", "ana")
    table = next(d for d in at.dataframe if "f1" in d.value.columns)
    scores = table.value.set_index("label")
    assert math.isnan(scores.loc["cancel_order", "recall"]) and scores["recall"].dtype == float
    # Streamlit draws a missing value of any dtype (float NaN too) as "None" unless given a placeholder
    assert table.proto.HasField("placeholder") and table.proto.placeholder == ""


def _pipeline_page():
    from workbench import auth, runtime
    from workbench.views import pipeline

    db = runtime.get_store(runtime.parse_settings().db_path)
    pipeline.render(db, auth.require_role(db, pipeline.ROLES))


@pytest.mark.usefixtures("app_db")
def test_the_two_intent_scores_have_two_names_and_one_format_on_both_pages():
    from streamlit.testing.v1 import AppTest

    from workbench import auth

    health = {m.label: m.value for m in page_as("health", "ana").metric}
    at = AppTest.from_function(_pipeline_page, default_timeout=60)
    now = time.time()
    at.session_state[auth.SESSION_KEY] = {"username": "ana", "role": "analyst", "signed_in_at": now, "last_seen": now}
    at.run()
    assert not at.exception, at.exception
    pipeline = {m.label: m.value for m in at.metric}
    assert "Intent accuracy" not in health and "Intent accuracy" not in pipeline
    assert health["Held-out intent accuracy"] == pipeline["Held-out intent accuracy"] == "80.0%"
    assert health["Agreement with today's labels"] == "90.0%"                 # 18 of 20 turns
    scores = [v for page in (health, pipeline) for k, v in page.items() if "accuracy" in k or "F1" in k]
    assert scores and all(PERCENT.match(v) or v == "-" for v in scores), scores
    history = next(d for d in at.dataframe if "Held-out intent accuracy" in d.value.columns)
    assert history.proto.HasField("placeholder") and history.proto.placeholder == ""
