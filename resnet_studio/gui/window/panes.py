"""The dock widgets around the canvas, the editing workspace, window layout and appearance.

Blocks on the left; Inspector above Model Summary on the right, with Learn tabbed behind the
summary. The docks belong to the Architecture tab: the other tabs use the whole width for
plots and tables, and the docks come back as they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDockWidget, QWidget

from resnet_studio.gui import theme
from resnet_studio.gui.inspector import Inspector
from resnet_studio.gui.learn_panel import LearnPanel
from resnet_studio.gui.palette import BlockPalette
from resnet_studio.gui.summary_view import SummaryView

if TYPE_CHECKING:
    from resnet_studio.gui.main_window import MainWindow

_Area = Qt.DockWidgetArea
# First-start sizes: palette and inspector widths, inspector and summary heights.
DOCK_WIDTHS, DOCK_HEIGHTS = (250, 370), (560, 290)


class WindowPanes:
    """Makes the docks (as attributes of the window) and keeps their layout."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self._editing_docks: list[bool] | None = None  # dock visibility while away from editing
        win.palette_view = BlockPalette(win)
        win.inspector = Inspector(win.doc, win)
        win.summary_view = SummaryView(win)
        win.palette_dock = self._dock("Blocks", "paletteDock", win.palette_view,
                                      _Area.LeftDockWidgetArea)
        win.inspector_dock = self._dock("Inspector", "inspectorDock", win.inspector,
                                        _Area.RightDockWidgetArea)
        win.summary_dock = self._dock("Model Summary", "summaryDock", win.summary_view,
                                      _Area.RightDockWidgetArea)
        win.splitDockWidget(win.inspector_dock, win.summary_dock, Qt.Orientation.Vertical)
        win.learn_panel = LearnPanel(win.doc, win)
        win.learn_dock = self._dock("Learn", "learnDock", win.learn_panel,
                                    _Area.RightDockWidgetArea)
        self._place_learn_dock()

    def docks(self) -> tuple[QDockWidget, ...]:
        w = self.win
        return (w.palette_dock, w.inspector_dock, w.summary_dock, w.learn_dock)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea
              ) -> QDockWidget:
        dock = QDockWidget(title, self.win)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.win.addDockWidget(area, dock)
        return dock

    def _place_learn_dock(self) -> None:
        """The Learn panel shares a tab with the Model Summary, behind it: both explain the
        selection without editing it, and the Inspector (the form being edited) and the
        canvas keep their room. One click on its tab brings it forward."""
        self.win.tabifyDockWidget(self.win.summary_dock, self.win.learn_dock)
        self.win.summary_dock.raise_()

    def show_dock(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

    def initial_sizes(self) -> None:
        w = self.win
        w.resizeDocks([w.palette_dock, w.inspector_dock], list(DOCK_WIDTHS),
                      Qt.Orientation.Horizontal)
        w.resizeDocks([w.inspector_dock, w.summary_dock], list(DOCK_HEIGHTS),
                      Qt.Orientation.Vertical)

    def restore_layout(self) -> None:
        geometry = self.win.settings.geometry()
        if geometry is not None:
            self.win.restoreGeometry(geometry)
        state = self.win.settings.window_state()
        if state is not None:
            self.win.restoreState(state)

    def save_layout(self) -> None:
        """Remembers geometry and docks, the editing docks as the user left them."""
        w = self.win
        w.tabs.setCurrentWidget(w.scroll)
        w.settings.save_window(w.saveGeometry(), w.saveState())
        w.settings.sync()

    def reset_layout(self) -> None:
        w = self.win
        w.settings.clear_window()
        for dock in self.docks():
            dock.setFloating(False)
            dock.show()
        w.addDockWidget(_Area.LeftDockWidgetArea, w.palette_dock)
        w.addDockWidget(_Area.RightDockWidgetArea, w.inspector_dock)
        w.splitDockWidget(w.inspector_dock, w.summary_dock, Qt.Orientation.Vertical)
        self._place_learn_dock()
        w.toolbar.show()
        w.resizeDocks([w.palette_dock, w.inspector_dock], list(DOCK_WIDTHS),
                      Qt.Orientation.Horizontal)

    def on_tab_changed(self, editing_tab: bool) -> None:
        """Workspaces: the editing docks hide away from the Architecture tab and come back
        as they were."""
        docks = self.docks()
        if not editing_tab and self._editing_docks is None:
            self._editing_docks = [d.isVisible() for d in docks]
            for d in docks:
                d.hide()
        elif editing_tab and self._editing_docks is not None:
            for d, visible in zip(docks, self._editing_docks, strict=True):
                d.setVisible(visible)
            self._editing_docks = None

    def on_appearance(self, action: QAction) -> None:
        value = action.data()
        self.win.settings.set_appearance(value)
        theme.apply_appearance(QApplication.instance(), value)
