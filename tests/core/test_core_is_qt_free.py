"""The core never imports Qt: proven by importing every core module with Qt made unimportable."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import resnet_studio.core

SCRIPT = r"""
import importlib, pkgutil, sys

class BlockQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6"):
            raise ImportError(f"core imported {name}")
        return None

sys.meta_path.insert(0, BlockQt())
import resnet_studio.core as core
for mod in pkgutil.walk_packages(core.__path__, "resnet_studio.core."):
    importlib.import_module(mod.name)
from resnet_studio.core.builder import build_model
from resnet_studio.core.presets import load_preset
build_model(load_preset("resnet8-digits"))
bad = [m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph")]
assert not bad, bad
print("ok")
"""


@pytest.mark.slow
def test_core_imports_and_builds_without_qt():
    modules = [m.name for m in pkgutil.walk_packages(resnet_studio.core.__path__,
                                                     "resnet_studio.core.")]
    assert "resnet_studio.core.builder" in modules
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


@pytest.mark.slow
def test_block_registry_imports_without_tensorflow():
    """The GUI palette reads block schemas before TensorFlow has loaded."""
    script = ("import sys, resnet_studio.core.blocks as b, resnet_studio.core.spec, "
              "resnet_studio.core.presets as p; p.list_presets(); "
              "assert len(b.BLOCK_TYPES) > 20; "
              "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, "
              "[m for m in sys.modules if m.startswith(('tensorflow', 'keras'))][:5]")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
