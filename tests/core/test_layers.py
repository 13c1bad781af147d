"""The import contracts of pyproject.toml ([tool.importlinter]; `make test` runs
`lint-imports` too): they hold for the project, and they do catch a core module that imports
Qt and a GUI module that imports the CLI (checked on a throwaway package with the same
contracts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")  # the `dev` extra installs it

ROOT = Path(__file__).resolve().parents[2]
# In a subprocess: import-linter prints through its own console, which does not mix with
# pytest's capture; grimp reads the sources, so the check takes well under a second.
LINT = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint(config: Path, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(path)}
    return subprocess.run([sys.executable, "-c", LINT, str(config), "--no-cache"],
                          cwd=path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_the_project_keeps_its_import_contracts():
    result = lint(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.slow
@pytest.mark.parametrize("bad_file, bad_import, broken", [
    ("core/model.py", "import PySide6.QtCore\n", "core imports neither Qt"),
    ("core/model.py", "import pyqtgraph\n", "core imports neither Qt"),
    ("core/model.py", "from fakestudio.gui import window\n", "cli over gui over core"),
    ("gui/window.py", "from fakestudio.cli import main\n", "cli over gui over core"),
    ("core/spec.py", "from fakestudio.core import model\n", "no import cycles"),
])
def test_the_contracts_fail_on_a_forbidden_import(tmp_path, bad_file, bad_import, broken):
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text[text.index("\n[tool.importlinter]\n") + 1:]
    config = tmp_path / "contracts.toml"
    # The same contracts on a package of the same shape, without the project's ignores.
    section = section[: section.index("ignore_imports")] if "ignore_imports" in section \
        else section
    config.write_text(section.replace("resnet_studio", "fakestudio"))
    assert 'root_package = "fakestudio"' in config.read_text()
    files = {"fakestudio/__init__.py": "", "fakestudio/core/__init__.py": "",
             "fakestudio/core/spec.py": "", "fakestudio/core/model.py": "import numpy\n",
             "fakestudio/gui/__init__.py": "",
             "fakestudio/gui/window.py": "from fakestudio.core import model\n",
             "fakestudio/cli/__init__.py": "",
             "fakestudio/cli/main.py": "from fakestudio.gui import window\n"}
    files["fakestudio/core/model.py"] += "from fakestudio.core import spec\n"
    pkg = tmp_path / "pkg"
    write_package(pkg, files)
    clean = lint(config, pkg)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    path = pkg / "fakestudio" / bad_file
    path.write_text(path.read_text() + bad_import)
    result = lint(config, pkg)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "Broken contracts" in out
    assert broken in out.split("Broken contracts", 1)[1]  # that contract, named as broken
