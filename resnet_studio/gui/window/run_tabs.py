"""The run tabs (Training, Compare, Runs) and the runs the window starts from them.

Each tab is a `RunTab`: a title, an icon and a factory. Its view is made when first needed
(the Training one once the window has appeared, by `start_backend`): made at once, they held
the first paint back by ~0.6 s (benchmarks/bench_startup.py). Tabs whose views run jobs
(`runs=True`) share one protocol: `running`, `paused`, `pause()`, `resume()`, `stop()`,
`confirm_stop(action)`, `shutdown()`, the signals `error(str, str, str)` and a `run_guard`;
one model trains at a time, so each asks the others to stop before starting.

To add a kind of run or view (experiments, a loss landscape…): write its view with that
protocol, add a `RunTab` to `RUN_TABS` with a factory that connects its signals here, and a
Train-menu action in `window.actions` that calls a `start_…` method of `RunTabs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QTabWidget, QWidget

from resnet_studio.core.spec import SpecError
from resnet_studio.gui import icons
from resnet_studio.gui.tf_loader import BackendInfo
from resnet_studio.gui.window.actions import COMPARE_TIP

if TYPE_CHECKING:  # core.runs (numpy, the run store) loads when a run is first touched
    from resnet_studio.core.runs import RunInfo
    from resnet_studio.gui.main_window import MainWindow

COMPARE_DISABLED_TIP = ("The architecture has no shortcut to remove: its plain twin would be "
                        "itself. Open a residual architecture (e.g. lab-sigmoid-mlp) or wrap "
                        "blocks in a residual container (Ctrl+G).")


@dataclass(frozen=True)
class RunTab:
    """A lazily made tab: `make(tabs)` returns its view, connected to `tabs`."""

    key: str
    title: str
    icon: str
    make: Callable[[RunTabs], QWidget]
    runs: bool = False  # its view runs jobs (the protocol in the module doc)


def _make_training(tabs: RunTabs) -> QWidget:
    from resnet_studio.gui.training.view import TrainingView

    win = tabs.win
    # Dataset previews wait until the TensorFlow import has ended (PreviewLoader.hold).
    tv = TrainingView(win.doc, win, hold_previews=win.tf_loader.state in ("idle", "loading"))
    tv.run_started.connect(tabs.on_run_started)
    tv.run_finished.connect(tabs.on_run_finished)
    tv.state_changed.connect(tabs.update_training_actions)
    tv.dataset_changed.connect(win.service.rebind)  # the editor shows the model bound to it
    if tabs.backend_info is not None:
        tabs.apply_backend(tv, tabs.backend_info)
    return tv


def _make_compare(tabs: RunTabs) -> QWidget:
    from resnet_studio.gui.training.compare_view import CompareView

    cv = CompareView(tabs.win)
    cv.run_started.connect(lambda _role, run_dir: tabs.on_run_started(run_dir))
    cv.finished.connect(tabs.on_run_finished)
    cv.state_changed.connect(tabs.update_training_actions)
    cv.start_requested.connect(tabs.start_compare)
    if tabs.compare_enabled is not None:
        cv.set_start_enabled(*tabs.compare_enabled)
    return cv


def _make_runs(tabs: RunTabs) -> QWidget:
    from resnet_studio.gui.training.runs_view import RunsView

    rv = RunsView(parent=tabs.win)
    rv.open_requested.connect(tabs.open_run)
    rv.compare_requested.connect(tabs.open_comparison)
    rv.resume_requested.connect(tabs.resume_run)
    rv.export_requested.connect(tabs.export_run)
    rv.compress_requested.connect(tabs.compress_run)
    rv.geometry_requested.connect(tabs.open_geometry)
    rv.insight_requested.connect(tabs.open_insight)
    return rv


def _make_experiments(tabs: RunTabs) -> QWidget:
    from resnet_studio.gui.experiments.view import ExperimentsView

    ev = ExperimentsView(tabs.win)
    ev.finished.connect(tabs.on_run_finished)
    ev.state_changed.connect(tabs.update_training_actions)
    return ev


def _make_geometry(tabs: RunTabs) -> QWidget:
    from resnet_studio.gui.geometry.view import GeometryView

    gv = GeometryView(tabs.win)
    gv.state_changed.connect(tabs.update_training_actions)
    gv.refresh_runs()
    return gv


def _make_insight(tabs: RunTabs) -> QWidget:
    from resnet_studio.gui.training.insight_view import InsightView

    return InsightView(tabs.win)


RUN_TABS = (RunTab("training", "Training", "train", _make_training, runs=True),
            RunTab("compare", "Compare", "shortcut", _make_compare, runs=True),
            RunTab("runs", "Runs", "runs", _make_runs),
            RunTab("experiments", "Experiments", "shortcut", _make_experiments, runs=True),
            RunTab("geometry", "Geometry", "family-containers", _make_geometry, runs=True),
            RunTab("insight", "Insight", "search", _make_insight, runs=True))


class RunTabs:
    """Owns the run tabs of `win.tabs` and orchestrates the runs started from them."""

    def __init__(self, win: MainWindow, tabs: QTabWidget) -> None:
        self.win = win
        self.tabs = tabs
        self.kinds = {t.key: t for t in RUN_TABS}
        self._views: dict[str, QWidget] = {}
        self.backend_info: BackendInfo | None = None
        self.compare_enabled: tuple[bool, str] | None = None
        for t in RUN_TABS:  # empty pages until the views are made
            page = QWidget(tabs)
            page.setObjectName(f"{t.key}Page")
            tabs.addTab(page, icons.icon(t.icon), t.title)

    # ------------------------------------------------------------------ views
    def built(self, key: str) -> Any:
        """The view if it has been made, else None (nothing to ask a tab never opened)."""
        return self._views.get(key)

    def view(self, key: str) -> Any:
        """The view of tab `key`, made now if needed (the tab stays where the user is)."""
        view = self._views.get(key)
        if view is not None:
            return view
        kind = self.kinds[key]
        view = kind.make(self)
        view.setObjectName(f"{key}View")
        if kind.runs:
            view.error.connect(self.on_run_error)
            view.run_guard = lambda action, key=key: self._confirm_others(key, action)
        self._views[key] = view
        page = self.win.findChild(QWidget, f"{key}Page")
        index = self.tabs.indexOf(page)
        current = self.tabs.currentIndex()
        blocked = self.tabs.blockSignals(True)  # the tab does not change for the user
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, view, icons.icon(kind.icon), kind.title)
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(blocked)
        page.deleteLater()
        if key == "runs" and self.tabs.currentWidget() is view:
            view.refresh()
        return view

    def _run_views(self) -> list[Any]:
        return [v for t in RUN_TABS if t.runs and (v := self.built(t.key)) is not None]

    def _running_view(self) -> Any:
        """The view whose run is going (a comparison before a training run), else the
        Training view if made."""
        running = [v for v in reversed(self._run_views()) if v.running]
        return running[0] if running else self.built("training")

    def confirm_stop(self, key: str, action: str) -> bool:
        """Asks the view `key` to stop its run before `action`; True if it has none."""
        view = self.built(key)
        return view is None or view.confirm_stop(action)

    def confirm_stop_all(self, action: str) -> bool:
        return all(self.confirm_stop(t.key, action) for t in RUN_TABS if t.runs)

    def _confirm_others(self, key: str, action: str) -> bool:
        return all(self.confirm_stop(t.key, action) for t in RUN_TABS if t.runs and t.key != key)

    def on_tab_changed(self, index: int) -> None:
        page = self.tabs.widget(index)
        self.win.panes.on_tab_changed(page is self.win.scroll)
        key = next((t.key for t in RUN_TABS if page.objectName() == f"{t.key}Page"), None)
        if key is not None:  # a tab opened for the first time: its view is made now
            self.view(key)
        elif page is self.built("runs"):
            page.refresh()

    # ------------------------------------------------------------------ background
    def start_backend(self) -> None:
        """Makes the Training tab's view (Train needs it), then starts importing TensorFlow in
        the next turn of the event loop. Call once the window has been shown: either would
        hold its first paint back (the import holds the GIL for seconds; the view imports
        pyqtgraph). The Compare and Runs views are made when first opened (~0.2 s each):
        made here, they delayed the import, and so the first training step, as much."""
        if self.win.closing:
            return
        if self.built("training") is None:
            self.view("training")
            QTimer.singleShot(0, self.win, self.start_backend)
            return
        self.win.tf_loader.start()

    def set_backend(self, info: BackendInfo | None) -> None:
        """The TensorFlow import ended (None: it failed; previews still load, built-in
        datasets need no TensorFlow)."""
        self.backend_info = info
        view = self.built("training")
        if view is not None:
            self.apply_backend(view, info)

    @staticmethod
    def apply_backend(view: Any, info: BackendInfo | None) -> None:
        if info is None:
            view.release_previews()
        else:
            view.set_backend(info.gpus, info.device, list(info.devices))

    def shutdown(self) -> None:
        for view in self._run_views():
            view.shutdown()

    # ------------------------------------------------------------------ actions
    def update_training_actions(self) -> None:
        a = self.win.actions
        view = self._running_view()
        training = any(v.running for v in self._run_views())
        a["pause_training"].setEnabled(training)
        a["stop_training"].setEnabled(training)
        paused = view is not None and view.paused
        a["pause_training"].setText("&Resume" if paused else "&Pause")

    def update_compare_action(self) -> None:
        """Compare needs a shortcut to remove; the tooltip says why it is disabled."""
        from resnet_studio.core.training.compare import has_shortcuts

        try:
            ok = has_shortcuts(self.win.doc.spec)
        except (KeyError, ValueError, SpecError):  # an invalid spec: the canvas says why
            ok = False
        a = self.win.actions["compare"]
        a.setEnabled(ok)
        tip = COMPARE_TIP if ok else COMPARE_DISABLED_TIP
        a.setStatusTip(tip)
        a.setToolTip(f"Compare with Plain Twin — {tip}")
        self.compare_enabled = (ok, tip)
        compare = self.built("compare")
        if compare is not None:
            compare.set_start_enabled(ok, tip)

    def _message(self, text: str, ms: int = 5000) -> None:
        self.win.statusBar().showMessage(text, ms)

    # ------------------------------------------------------------------ runs
    def start_training(self) -> bool:
        """Trains the open architecture with the Training tab's settings (Train, F5).

        Shows the Training tab; if a run is going, asks before stopping it.
        """
        view = self.view("training")
        self.tabs.setCurrentWidget(view)
        started = view.start()
        self.update_training_actions()
        return started

    def toggle_pause(self) -> None:
        view = self._running_view()
        if view is None:
            return
        if view.paused:
            view.resume()
        else:
            view.pause()
        self.update_training_actions()

    def stop_training(self) -> None:
        """Stop (Shift+F5): the comparison if one is going, else the training run."""
        view = self._running_view()
        if view is not None:
            view.stop()
        self.update_training_actions()

    def start_compare(self, limit: int | None = None) -> bool:
        """Compares the open architecture with its plain twin, with the Training tab's
        settings and dataset (Train → Compare with Plain Twin). Shows the Compare tab; asks
        before stopping a run in progress."""
        from resnet_studio.core.runs import default_runs_root

        if not self.win.actions["compare"].isEnabled():
            self._message(COMPARE_DISABLED_TIP, 6000)
            return False
        try:
            config, dataset = self.view("training").run_settings()
        except ValueError as e:
            self.win.show_error("Cannot Compare", "A training setting is not valid.",
                                details=str(e))
            return False
        if not dataset:
            self.win.show_error("Cannot Compare", "Choose a dataset in the Training tab first.")
            return False
        from resnet_studio.gui.training.compare_worker import CompareRequest

        view = self.view("compare")
        self.tabs.setCurrentWidget(view)
        request = CompareRequest(self.win.doc.spec.copy(), dataset, config, default_runs_root())
        started = view.start(request, limit=limit)
        self.update_training_actions()
        return started

    def open_comparison(self, info: RunInfo) -> None:
        """Shows a stored pair (either of its runs) in the Compare tab."""
        self._show_stored("compare", lambda v: v.show_pair(info.dir),
                          "A comparison is training: its live plots stay in view")

    def open_geometry(self, info: RunInfo) -> None:
        """Opens a stored run (and its plain-twin partner) in the Geometry tab."""
        self._show_stored("geometry", lambda v: v.open_run(info.dir),
                          "A geometry study is running: stop it to study another run")

    def open_run(self, info: RunInfo) -> None:
        """Shows a stored run's curves and gradients in the Training tab."""
        self._show_stored("training", lambda v: v.show_run(info.dir),
                          "A run is training: its live plots stay in view")

    def _show_stored(self, key: str, show: Callable[[Any], bool], busy: str) -> None:
        view = self.view(key)
        if view.running:
            self._message(busy)
        elif show(view):
            self.tabs.setCurrentWidget(view)

    def open_insight(self, info: RunInfo | str, page: str | None = None) -> None:
        """Shows a run's predictions and histograms in the Insight tab."""
        view = self.view("insight")
        self.tabs.setCurrentWidget(view)
        view.show_run(getattr(info, "dir", info), page)

    def show_insight(self) -> None:
        """Predictions and histograms of the run selected in the Runs tab, else of this
        window's last run (Train › Predictions and Histograms)."""
        runs = self.built("runs")
        selected = runs.selected_runs() if runs is not None and \
            self.tabs.currentWidget() is runs else []
        training = self.built("training")
        last = training.last_run_dir if training is not None else None
        if selected or last is not None:
            self.open_insight(selected[0] if selected else str(last))
        else:
            self._message("Train a model first, or pick a run in the Runs tab", 6000)
            self.tabs.setCurrentWidget(self.view("runs"))

    def resume_run(self, info: RunInfo) -> None:
        """Continues a stopped or interrupted run from its last checkpoint."""
        view = self.view("training")
        self.tabs.setCurrentWidget(view)
        view.resume_run(info.dir)
        self.update_training_actions()

    def export_model(self) -> None:
        """Exports the run selected in the Runs tab, else the latest run of this window."""
        from resnet_studio.core.runs import read_run

        runs = self.built("runs")
        selected = runs.selected_runs() if runs is not None and \
            self.tabs.currentWidget() is runs else []
        if selected:
            self.export_run(selected[0])
            return
        training = self.built("training")
        run_dir = training.last_run_dir if training is not None else None
        if run_dir is None or training.running:
            self._message("Train a model first, or pick a finished run in the Runs tab", 6000)
            self.tabs.setCurrentWidget(self.view("runs"))
            return
        try:
            self.export_run(read_run(run_dir))
        except (OSError, ValueError) as e:
            self.win.show_error("Cannot Export", f"Cannot read the run in {run_dir}.", str(e))

    def export_run(self, info: RunInfo) -> None:
        from resnet_studio.gui.training.export_dialog import ExportDialog

        dialog = ExportDialog(info, self.win)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.win.export_dialog = dialog
        dialog.open()

    def compress_run(self, info: RunInfo) -> None:
        from resnet_studio.gui.training.compress_dialog import CompressDialog

        dialog = CompressDialog(info, self.win)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.win.compress_dialog = dialog
        dialog.open()

    # ------------------------------------------------------------------ run events
    def on_run_error(self, title: str, text: str, details: str) -> None:
        # Not modal-blocking: the run's thread and the plots keep going behind the dialog.
        self.win.show_error(title, text, details=details, blocking=False)
        self.update_training_actions()

    def on_run_started(self, run_dir: str) -> None:
        insight = self.built("insight")
        if insight is not None:  # its histograms follow the new run live
            insight.follow_training(run_dir)
        self.update_training_actions()
        self._refresh_runs()
        self.win.run_started.emit(run_dir)

    def on_run_finished(self, _finished: object) -> None:
        insight = self.built("insight")
        if insight is not None:
            insight.training_finished()
        self.update_training_actions()
        self._refresh_runs()
        self.win.run_finished.emit()

    def _refresh_runs(self) -> None:
        runs = self.built("runs")  # else it lists the runs when it is made
        if runs is not None:
            runs.refresh()
        geometry = self.built("geometry")
        if geometry is not None and not geometry.running:
            geometry.refresh_runs()
