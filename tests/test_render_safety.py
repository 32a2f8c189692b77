"""No user-derived text may reach a Markdown renderer or a widget label.

Markdown in dialog text would render images (a request to any URL the text names), links and HTML.
So in workbench/, every call that renders Markdown (st.markdown, st.write, st.caption, headers, alerts,
...) and every widget label must get a string literal. A call that really needs a computed value
(an admin's guidelines, a number) says why on its line with ``# md-safe: <reason>``, which a reviewer
can check; anything else fails this test.
"""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARKDOWN_CALLS = {"markdown", "write", "caption", "title", "header", "subheader", "info", "warning", "error",
                  "success", "toast", "latex", "write_stream", "badge"}
LABELLED_WIDGETS = {"button", "checkbox", "radio", "selectbox", "multiselect", "text_input", "text_area",
                    "number_input", "slider", "select_slider", "toggle", "form_submit_button", "download_button",
                    "expander", "popover", "metric", "pills", "segmented_control", "link_button", "page_link",
                    "file_uploader", "date_input", "time_input", "color_picker", "feedback", "chat_input", "tabs"}
PRAGMA = "# md-safe:"


def is_literal(node) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.List, ast.Tuple)):  # st.tabs(["A", "B"])
        return all(is_literal(e) for e in node.elts)
    if isinstance(node, ast.BinOp):
        return is_literal(node.left) and is_literal(node.right)
    if isinstance(node, ast.IfExp):  # st.button("Editing" if is_open else "Edit"): either way a literal
        return is_literal(node.body) and is_literal(node.orelse)
    return False


def label_argument(call: ast.Call):
    for keyword in call.keywords:
        if keyword.arg in ("label", "body"):
            return keyword.value
    return call.args[0] if call.args else None


def offending_calls(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        if name not in MARKDOWN_CALLS | LABELLED_WIDGETS:
            continue
        if name in ("write", "error", "info", "warning", "success") and not _looks_like_streamlit(node.func.value):
            continue  # file.write(...), logger.error(...)
        argument = label_argument(node)
        if argument is None or is_literal(argument):
            continue
        span = lines[node.lineno - 1: (node.end_lineno or node.lineno)]
        if any(PRAGMA in line for line in span):
            continue
        found.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}({ast.unparse(argument)[:60]})")
    return found


def _looks_like_streamlit(value) -> bool:
    """st.x, st.sidebar.x, a column/container/form/tab (named anything) -- but not files or loggers."""
    text = ast.unparse(value)
    return not any(word in text.lower() for word in ("file", "log", "out", "stream", "sys", "handle", "fh", "buf"))


def test_no_computed_text_reaches_markdown_or_widget_labels():
    offenders = [line for path in sorted((REPO / "workbench").rglob("*.py")) for line in offending_calls(path)]
    assert offenders == [], "computed text reaches Markdown or a widget label:\n" + "\n".join(offenders)


def test_the_checker_catches_what_it_must(tmp_path):
    sample = REPO / "workbench" / "_render_safety_probe.py"
    sample.write_text("import streamlit as st\n"
                      "st.markdown(turn['text'])\n"
                      "st.sidebar.write(f'{name}')\n"
                      "st.button(user_text)\n"
                      "st.button('Editing' if is_open else 'Edit')\n"
                      "st.button('Edit' if is_open else row_text)\n"
                      "st.selectbox(label=intent, options=[1])\n"
                      "st.markdown('**static**')\n"
                      "st.markdown(guidelines)  # md-safe: admin-written guidelines\n"
                      "log.error(msg)\n")
    try:
        found = offending_calls(sample)
    finally:
        sample.unlink()
    assert [line.split(": ", 1)[1].split("(")[0] for line in found] == ["markdown", "write", "button", "button", "selectbox"]
