"""The span selector's scripts as Python joins them: an inline component is one ES module, so
text.js (the grapheme and word model) must come first and declare nothing a module join would break."""
from __future__ import annotations

import re

from workbench.components import span_selector


def scripts() -> dict[str, str]:
    return {name: (span_selector.ASSET_DIR / name).read_text(encoding="utf-8") for name in span_selector.JS_FILES}


def test_the_text_model_is_joined_before_the_selector_that_uses_it():
    names = list(span_selector.JS_FILES)
    assert names.index("text.js") < names.index("selector.js")
    assert "class TextModel" in scripts()["text.js"] and "new TextModel(" in scripts()["selector.js"]


def test_only_the_last_script_exports_and_none_imports():
    sources = scripts()
    for name, source in sources.items():
        assert not re.search(r"^\s*import\s", source, re.M), f"{name} imports: a joined module cannot"
    exports = [name for name, source in sources.items() if re.search(r"^export\s", source, re.M)]
    assert exports == [span_selector.JS_FILES[-1]]
