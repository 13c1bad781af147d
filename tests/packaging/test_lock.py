"""The installed environment is the one the lock files describe, and the locks cover
pyproject.toml (see the Makefile: `make lock` refreshes them, `make test` installs from them).

A failure names each package that differs. The usual causes: the environment was installed
another way (`make test` reinstalls from the lock), or pyproject.toml was edited without
`make lock`. Packages installed by hand that the project does not use are not a failure.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PACKAGE_LOCK = ROOT / "requirements-package.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503 name: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    """{normalized name: exact version} of a lock file."""
    return {normalize(n): v for n, v in _PIN.findall(path.read_text())}


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _pyproject() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the lock is for 3.11; on 3.10 only if tomli happens to be there
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_locked_package_is_installed_at_its_locked_version():
    locked = read_lock(LOCK)
    assert len(locked) > 50 and locked["tensorflow"].startswith("2.21")
    problems = [f"{name}: locked {version}, installed {installed(name) or 'nothing'}"
                for name, version in sorted(locked.items()) if installed(name) != version]
    # The bundle's extra tools, where they are installed (`make package`).
    problems += [f"{name}: locked {version} (requirements-package.lock), installed "
                 f"{installed(name)}" for name, version in sorted(read_lock(PACKAGE_LOCK).items())
                 if name not in locked and installed(name) not in (None, version)]
    assert not problems, (
        "the environment differs from requirements.lock (made for CPython 3.11 on x86-64 "
        f"Linux; this is Python {sys.version.split()[0]}):\n  " + "\n  ".join(problems) +
        "\nInstall from the lock (`make test` does when the lock is newer than .venv), or "
        "refresh the lock after editing pyproject.toml (`make lock`).")


def test_the_locks_cover_pyproject_and_agree():
    """Every requirement of pyproject.toml (dependencies, dev and package extras) is pinned,
    and the two locks pin the same version of every package they share."""
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    locked, package = read_lock(LOCK), read_lock(PACKAGE_LOCK)
    missing = [f"{req!r} is not in requirements.lock" for req in
               project["dependencies"] + extras["dev"]
               if normalize(_NAME.match(req).group(1)) not in locked]
    missing += [f"{req!r} is not in requirements-package.lock" for req in extras["package"]
                if normalize(_NAME.match(req).group(1)) not in package]
    assert not missing, "pyproject.toml was edited without `make lock`: " + "; ".join(missing)
    differ = [f"{n}: {v} vs {package.get(n)}" for n, v in locked.items() if package.get(n) != v]
    assert not differ, "requirements-package.lock differs from requirements.lock: " + \
        "; ".join(differ) + " (`make lock` makes both)"


def test_the_locked_versions_satisfy_pyprojects_ranges():
    packaging = pytest.importorskip("packaging.requirements")
    locked = {**read_lock(PACKAGE_LOCK), **read_lock(LOCK)}
    project = _pyproject()["project"]
    reqs = project["dependencies"] + [r for name in ("dev", "package")
                                      for r in project["optional-dependencies"][name]]
    wrong = []
    for text in reqs:
        req = packaging.Requirement(text)
        version = locked.get(normalize(req.name))
        if version is not None and not req.specifier.contains(version, prereleases=True):
            wrong.append(f"{req.name} {version} is outside {req.specifier}")
    assert not wrong, "; ".join(wrong) + " (`make lock` after editing pyproject.toml)"


def test_every_lock_line_has_a_hash():
    for path in (LOCK, PACKAGE_LOCK):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", path.read_text())
        pins = [b for b in blocks if _PIN.match(b)]
        assert pins and all("--hash=sha256:" in b for b in pins), path.name
