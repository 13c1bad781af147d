"""The import contracts of pyproject.toml ([tool.importlinter]; `make test` runs
`lint-imports` too): they hold for the project, and they do catch a core module that imports
Qt and a GUI module that imports the CLI (checked on a throwaway package with the same
contracts)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

importlinter_cli = pytest.importorskip("importlinter.cli")  # the `dev` extra installs it

ROOT = Path(__file__).resolve().parents[2]


def lint(config: Path) -> int:
    return importlinter_cli.lint_imports(config_filename=str(config), no_cache=True,
                                         no_logo=True)


def test_the_project_keeps_its_import_contracts(capsys):
    assert lint(ROOT / "pyproject.toml") == 0, capsys.readouterr().out


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("bad_file, bad_import, broken", [
    ("core/model.py", "import PySide6.QtCore\n", "core imports neither Qt"),
    ("core/model.py", "import pyqtgraph\n", "core imports neither Qt"),
    ("core/model.py", "from fakestudio.gui import window\n", "cli over gui over core"),
    ("gui/window.py", "from fakestudio.cli import main\n", "cli over gui over core"),
    ("core/spec.py", "from fakestudio.core import model\n", "no import cycles"),
])
def test_the_contracts_fail_on_a_forbidden_import(tmp_path, monkeypatch, capsys, bad_file,
                                                   bad_import, broken):
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text[text.index("[tool.importlinter]"):]
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
    write_package(tmp_path / "pkg", files)
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    assert lint(config) == 0, capsys.readouterr().out
    capsys.readouterr()
    path = tmp_path / "pkg" / "fakestudio" / bad_file
    path.write_text(path.read_text() + bad_import)
    for name in [m for m in sys.modules if m.startswith("fakestudio")]:
        monkeypatch.delitem(sys.modules, name)
    assert lint(config) == 1
    out = capsys.readouterr().out
    assert "Broken contracts" in out
    assert broken in out.split("Broken contracts", 1)[1]  # that contract, named as broken
