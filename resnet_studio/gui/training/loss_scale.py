"""The log-scale switch of the loss plots (Training tab, Runs tab curves, Compare tab).

After a few hundred steps a loss curve lies flat near zero on a linear axis, and the part
that still moves is invisible; on a log axis it keeps its shape. Each view remembers its own
choice in the settings (`plots/log_loss/<view>`): the Compare tab starts on log (its story
is a plain twin whose loss stays orders of magnitude apart), the others on linear.

A log axis has no place for zero or negative values (a loss is >= 0, and a custom loss may
be negative): `loggable` turns them into NaN, which the plots leave out (a gap), and the
axis range is taken from the positive values only (`plot_ranges.data_extent`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtWidgets import QCheckBox, QWidget

from resnet_studio.gui.settings import Settings

DEFAULTS = {"training": False, "runs": False, "compare": True}
TOOLTIP = ("Log scale for the loss axis: a loss that fell by orders of magnitude keeps its "
           "shape. Zero and negative values have no place on it and are left out.")


def _key(view: str) -> str:
    return f"plots/log_loss/{view}"


def saved_log_scale(view: str) -> bool:
    """The view's last choice (its default before the first)."""
    value = Settings().q.value(_key(view), DEFAULTS.get(view, False))
    if isinstance(value, str):  # an INI file stores booleans as text
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def save_log_scale(view: str, on: bool) -> None:
    Settings().q.setValue(_key(view), bool(on))


def loggable(y: np.ndarray) -> np.ndarray:
    """`y` with values <= 0 (and non-finite ones) as NaN: what a log axis can show."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(np.isfinite(y) & (y > 0), y, np.nan)


def log_scale_box(parent: QWidget, view: str, on_toggled: Callable[[bool], None]
                  ) -> QCheckBox:
    """A "Log loss" check box set to the view's saved choice; toggling it saves the choice
    and calls `on_toggled(checked)`."""
    box = QCheckBox("Log loss", parent)
    box.setObjectName(f"logLoss_{view}")
    box.setToolTip(TOOLTIP)
    box.setChecked(saved_log_scale(view))

    def toggled(checked: bool) -> None:
        save_log_scale(view, checked)
        on_toggled(checked)

    box.toggled.connect(toggled)
    return box
