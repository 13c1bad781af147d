"""Desktop packaging files (packaging/, resources/icons/): the .desktop entry, the AppStream
metainfo, the icon renderings and the PyInstaller spec agree with each other and with the app.

The bundle build itself is `make package-check` (minutes), not part of this suite.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import importlib.util
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from resnet_studio import __version__
from resnet_studio.gui import icons
from resnet_studio.gui.icons import APP_ICON_SIZES, APP_ID

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
DESKTOP = PACKAGING / f"{APP_ID}.desktop"
METAINFO = PACKAGING / f"{APP_ID}.metainfo.xml"
SPEC = PACKAGING / "resnet-studio.spec"
ICONS = ROOT / "resources" / "icons"


def desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def console_script() -> str:
    """The console script that pyproject.toml declares (as installed)."""
    dist = importlib.metadata.distribution("resnet-studio")
    (name,) = [ep.name for ep in dist.entry_points if ep.group == "console_scripts"]
    return name


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    return struct.unpack(">II", data[16:24])


def test_desktop_entry_names_the_app_id_icon_and_launcher():
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "ResNet Studio"
    assert entry["Icon"] == APP_ID
    assert entry["Exec"].split()[0] == console_script() == "resnet-studio"
    assert entry["TryExec"] == console_script()
    assert entry["Terminal"] == "false"
    # On X11 Qt's WM_CLASS class is the application name: the desktop matches windows by it.
    from resnet_studio.gui.settings import APPLICATION

    assert entry["StartupWMClass"] == APPLICATION


def test_metainfo_id_launchable_release_and_licences():
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    launchable = root.find("launchable")
    assert launchable.get("type") == "desktop-id" and launchable.text == DESKTOP.name
    assert root.findtext("provides/binary") == console_script()
    assert root.findtext("name") == desktop_entry()["Name"]
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "MIT"
    assert root.find("content_rating") is not None
    releases = [r.get("version") for r in root.findall("releases/release")]
    assert __version__ in releases and all(r.get("date") for r in root.findall("releases/release"))
    assert {c.text for c in root.findall("categories/category")} >= {"Education", "Science"}


def test_the_app_sets_the_desktop_file_name_to_the_app_id():
    # make_application() runs once per process (the test session's QApplication exists
    # already), so this reads the call instead of running it.
    source = (ROOT / "resnet_studio" / "gui" / "app.py").read_text(encoding="utf-8")
    assert "setDesktopFileName(icons.APP_ID)" in source
    assert "setWindowIcon(icons.app_icon())" in source


def test_every_png_size_is_rendered_from_the_svg():
    for size in APP_ICON_SIZES:
        path = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert path.is_file(), path
        assert png_size(path) == (size, size), path
    scalable = ICONS / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    assert scalable.read_bytes() == (ICONS / "app.svg").read_bytes(), \
        "run packaging/render_icons.py after editing app.svg"


def test_windows_and_macos_icons_exist():
    ico = (ICONS / "app.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1)
    # Directory entries: width byte 0 means 256.
    widths = {ico[6 + 16 * i] or 256 for i in range(count)}
    assert widths == {16, 24, 32, 48, 64, 128, 256}
    icns = (ICONS / "app.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)


def test_app_icon_carries_every_png_size(qapp):
    icon = icons.app_icon()
    sizes = {(s.width(), s.height()) for s in icon.availableSizes()}
    assert sizes == {(s, s) for s in APP_ICON_SIZES}
    assert icons.icon("app") is icon  # main_window's icon("app") gets the same icon
    assert icon.pixmap(48).size().width() == 48


def test_pyinstaller_spec_bundles_presets_resources_and_the_launcher():
    spec = SPEC.read_text(encoding="utf-8")
    for needle in ('"presets"', '"resnet_studio/presets"', '"resources"',
                   '"resnet_studio/resources"', "launcher.py", "pydoc_data.topics",
                   "app.ico", "app.icns", 'name="resnet-studio"'):
        assert needle in spec, needle
    compile(spec, str(SPEC), "exec")  # at least valid Python


def _launcher():
    spec = importlib.util.spec_from_file_location("bundle_launcher", PACKAGING / "launcher.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frozen_launcher_runs_python_c_like_the_interpreter(monkeypatch, capsys):
    """The Python export verifies its script with `sys.executable -c CODE PATH`; in the
    bundle sys.executable is the launcher, which must behave like `python -c`."""
    launcher = _launcher()
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    assert launcher._run_code("import sys; print('args', sys.argv[1:])", ["a", "b"]) == 0
    assert capsys.readouterr().out == "args ['a', 'b']\n"
    assert launcher._run_code("raise SystemExit(3)", []) == 3
    assert launcher._run_code("raise SystemExit('bad')", []) == 1
    assert capsys.readouterr().err == "bad\n"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate not installed (apt: desktop-file-utils)")
def test_desktop_file_validates():
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower(), result.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("appstreamcli") is None,
                    reason="appstreamcli not installed (apt: appstream)")
def test_metainfo_validates_with_the_desktop_file_and_icons(tmp_path):
    """validate-tree also checks that the launchable .desktop file and the icon exist."""
    share = tmp_path / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    (share / "metainfo").mkdir()
    shutil.copy(DESKTOP, share / "applications")
    shutil.copy(METAINFO, share / "metainfo")
    shutil.copytree(ICONS / "hicolor", share / "icons" / "hicolor")
    for cmd in (["appstreamcli", "validate", "--no-net", str(METAINFO)],
                ["appstreamcli", "validate-tree", "--no-net", str(tmp_path)]):
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
