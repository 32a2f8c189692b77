"""Model health's line about the turns the encoder cannot read named the way out as plain text with no full
stop ("... reads them"), where the Pipeline page formats the same command as code: the line now ends its
sentence and the command is drawn with st.code, copyable as it is."""
from __future__ import annotations

import test_analysis_pages
from test_analysis_pages import page_as
from test_analyst_review_unreadable import x2_unreadable

app_db = test_analysis_pages.app_db


def test_the_hidden_unreadable_line_ends_and_shows_the_command_as_code(app_db):
    x2_unreadable(app_db)
    at = page_as("health", "ana")
    assert not at.exception, at.exception
    line = next(t.value for t in at.text if "the encoder cannot read (mostly [UNK]) are hidden" in t.value)
    assert line.endswith(".") or line.endswith(":"), line
    assert "concord serve" not in line
    assert "concord serve --encoder multilingual" in [c.value for c in at.code]
