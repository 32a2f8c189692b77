"""The package lines of the design card: only store/ imports duckdb, workbench/ no torch/transformers,
pipeline/ no streamlit. Checked on the import statements themselves (ast), so a lazy import inside a
function counts too."""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "workbench": {"duckdb", "torch", "transformers"},
    "pipeline": {"streamlit", "duckdb"},
    "store": {"torch", "transformers", "streamlit"},
    "tests": set(),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.add(node.args[0].value.split(".")[0])
    return names


@pytest.mark.parametrize("package", ["workbench", "pipeline", "store"])
def test_package_imports_stay_inside_their_lines(package):
    offenders = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = imported_modules(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert offenders == [], "\n".join(offenders)


def test_only_store_imports_duckdb_anywhere_in_the_product():
    for package in ("workbench", "pipeline"):
        for path in (REPO / package).rglob("*.py"):
            assert "duckdb" not in imported_modules(path), path


def test_the_checker_sees_lazy_and_dynamic_imports(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    import torch.nn\n    from duckdb import connect\n"
                      "    importlib.import_module('streamlit')\n")
    assert imported_modules(sample) == {"torch", "duckdb", "streamlit"}
