"""The Misalignment page's score histogram follows the filters above it, as the worst-aligned table does:
an analyst filtering on one intent saw the whole run's distribution above a table of that intent's turns."""
from __future__ import annotations

import base64
import json

import numpy as np
from app_testkit import texts
from store import analysis
import test_analysis_pages
from test_analysis_pages import page_as

app_db = test_analysis_pages.app_db      # 20 labelled turns x0..x19, intents cycling over 5, scored by run-a


def plotly_numbers(values) -> list:
    """A Plotly trace's numbers as Streamlit ships them (plotly 6 packs arrays as base64 + dtype)."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def histogram_total(at) -> int:
    """The number of responses the page's "Alignment scores" bar chart counts."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if "Alignment scores" in json.dumps(spec["layout"].get("title")):
            return int(sum(plotly_numbers(spec["data"][0]["y"])))
    raise AssertionError("no alignment histogram on the page")


def test_the_histogram_counts_only_the_filtered_turns(app_db):
    at = page_as("misalignment", "ana")
    assert not at.exception, at.exception
    assert histogram_total(at) == 20
    at.selectbox(key="mis_intent").set_value("return_item").run()
    assert not at.exception, at.exception
    assert set(at.dataframe[0].value["intent"]) == {"return_item"}
    assert histogram_total(at) == 4                               # x1, x6, x11, x16
    assert "Alignment scores of 4 response(s) matching the filters above" in texts(at)


def test_the_store_histogram_takes_the_table_filters(app_db):
    whole = analysis.alignment_histogram(app_db, "default", run_id="run-a")
    mine = analysis.alignment_histogram(app_db, "default", run_id="run-a", intent="return_item")
    assert whole["count"].sum() == 20 and mine["count"].sum() == 4
    table = analysis.worst_aligned(app_db, "default", run_id="run-a", intent="return_item")
    assert len(table) == 4
    assert analysis.alignment_histogram(app_db, "default", run_id="run-a", annotator="nobody").empty
