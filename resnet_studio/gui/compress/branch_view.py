"""Branch removal: test accuracy as residual units are deleted, least damaging first.

core/compress/views.py ranks the units by the lesion study on the validation split and
deletes them cumulatively (no retraining); the residual run and its plain twin are drawn
together when the run is one of a comparison. The plain network can only lose the units
whose output has its input's shape (replaced by the identity); the others have no path
around them, which the summary says. Fine-tuned `prune --blocks` runs are the star points.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from resnet_studio.core.compress.views import branch_removal_job
from resnet_studio.gui.compress.common import COLORS, STYLES, JobRow, role_label, themed_plot
from resnet_studio.gui.jobs import Job


class BranchRemovalView(QWidget):
    """Accuracy vs units removed, one curve per run of {role: run folder}.

    Args:
        runs: {"run": folder} or {"residual": folder, "plain": folder}.
        parent: Owner widget.
    """

    def __init__(self, runs: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs = dict(runs)
        self.curves: dict[str, dict[str, Any]] = {}
        layout = QVBoxLayout(self)
        intro = QLabel("Residual units deleted at test time, least damaging first (ranked by "
                       "the lesion study on the validation split; no retraining). A residual "
                       "unit keeps its shortcut; a plain unit is replaced by the identity "
                       "where shapes allow. Stars: pruned runs fine-tuned after "
                       "<code>prune --blocks</code>.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.plot = themed_plot(self, "units removed", "test accuracy")
        self.plot.getAxis("bottom").setTickSpacing(1, 1)  # whole units only
        layout.addWidget(self.plot, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.row = JobRow("Measure", self._make_job, self)
        self.row.partial.connect(self._on_partial)
        self.row.done.connect(self._on_done)
        layout.addLayout(self.row.layout)

    def _make_job(self, owner: Any) -> Job:
        self.curves = {}
        self.redraw()
        return Job(branch_removal_job, self.runs, name="branch-removal", parent=owner)

    def start(self) -> None:
        self.row.start()

    @Slot(object)
    def _on_partial(self, piece: dict[str, dict[str, Any]]) -> None:
        self.curves.update(piece)
        self.redraw()

    @Slot(object)
    def _on_done(self, result: Any) -> None:
        if result is not None:
            self.curves = dict(result)
        self.redraw()

    def curve_data(self, role: str) -> tuple[list[int], list[float]]:
        """(units removed, test accuracy) drawn for `role`."""
        points = (self.curves.get(role) or {}).get("points") or []
        return [p["k"] for p in points], [p["accuracy"] for p in points]

    def redraw(self) -> None:
        self.plot.clear()
        lines = []
        for role, curve in self.curves.items():
            xs, ys = self.curve_data(role)
            color = COLORS[role]
            self.plot.plot(xs, ys, pen=pg.mkPen(color, width=2, style=STYLES[role]),
                           symbol="o", symbolBrush=color, name=role_label(role))
            tuned = curve.get("fine_tuned") or []
            if tuned:
                self.plot.plot([p["k"] for p in tuned], [p["accuracy"] for p in tuned],
                               pen=None, symbol="star", symbolSize=14, symbolBrush=color,
                               name=f"{role_label(role)}, fine-tuned")
            lines.append(self._describe(role, curve))
        self.summary.setText("<br>".join(lines))

    @staticmethod
    def _describe(role: str, curve: dict[str, Any]) -> str:
        points = curve["points"]
        text = f"<b>{role_label(role)}</b>: {points[0]['accuracy']:.1%} intact"
        if len(points) > 1:
            one = points[1]
            text += f", {one['accuracy']:.1%} without {one['removed'][-1]}"
        if len(points) > 2:
            text += f", {points[-1]['accuracy']:.1%} without all {len(points) - 1}"
        if curve["skipped"]:
            text += (f"; cannot remove {', '.join(curve['skipped'])} (the shape changes: "
                     "no path around it)")
        return text

    def shutdown(self) -> None:
        self.row.shutdown(self.row, self)
