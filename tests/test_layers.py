"""The layers of DESIGN.md hold: `.importlinter` states them once, and `lint-imports` checks the code."""
import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app_pages", "ui", "records", "consent", "deid", "isolation")


def lint(tree: Path) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(tool), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_every_layer_contract_is_kept():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_a_wrong_import_breaks_a_contract_by_name(tmp_path):
    """The check can fail: a copy of the tree where the media engine imports the records is refused."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    naming = tmp_path / "deid" / "naming.py"
    naming.write_text(naming.read_text() + "\nimport records.models  # noqa: E402,F401\n")
    done = lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout and "deid.naming -> records.models" in done.stdout


def test_the_isolation_seam_imports_the_standard_library_only():
    """The bottom layer stands on its own: no package of Veil's (the contracts above) and nothing installed."""
    imported = set()
    for module in (ROOT / "isolation").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert "multiprocessing" in imported   # the walk found the imports
    assert imported - {"isolation", "__future__"} <= sys.stdlib_module_names, imported - sys.stdlib_module_names
