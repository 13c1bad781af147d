"""The Insight tab: what a run learnt, as two pages over one run.

- Predictions: its test examples with true and predicted labels, misclassified first
  (`predictions_view.PredictionsView`, computed in the background on first look).
- Histograms: per-layer weight and activation histograms by epoch
  (`histograms_view.HistogramsView`), live while the run trains.

Opened from the Runs tab (Predictions and Histograms), from Train › Predictions and
Histograms (the last run of this window), and it follows a run started in this window.
It has the run-tab protocol (`gui/window/run_tabs.py`) so that closing the window waits for
a prediction in progress; it trains nothing, so it is never `running`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from resnet_studio.gui.training.histograms_view import HistogramsView
from resnet_studio.gui.training.predictions_view import PredictionsView


class InsightView(QWidget):
    """Predictions and histograms of one run.

    Signals:
        error(str, str, str): title, text, details (the run-tab protocol).
    """

    error = Signal(str, str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_guard = None
        self.run_dir: Path | None = None
        self._training: Path | None = None  # a run training now: predictions wait for it
        self.title = QLabel("No run chosen", self)
        self.title.setObjectName("insightTitle")
        self.predictions = PredictionsView(self)
        self.histograms = HistogramsView(self)
        self.pages = QTabWidget(self)
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.predictions, "Predictions")
        self.pages.addTab(self.histograms, "Histograms")
        self.pages.currentChanged.connect(self._maybe_predict)
        self.predictions.failed.connect(
            lambda message, details: self.error.emit("No Predictions", message, details))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.pages, 1)

    # ------------------------------------------------------------------ API
    def show_run(self, run_dir: str | Path, page: str | None = None) -> None:
        """Shows the run in `run_dir` (`page`: "predictions" or "histograms")."""
        self.run_dir = Path(run_dir)
        self.title.setText(f"Run <b>{self.run_dir.name}</b>")
        self.title.setToolTip(str(self.run_dir))
        self.histograms.set_run(self.run_dir)
        self.predictions.clear()
        if page is not None:
            self.pages.setCurrentWidget(self.histograms if page == "histograms"
                                        else self.predictions)
        self._maybe_predict()

    def follow_training(self, run_dir: str | Path) -> None:
        """A run started in this window: its histograms are drawn live; its predictions
        once it has finished."""
        self._training = Path(run_dir)
        self.show_run(run_dir)

    def training_finished(self) -> None:
        """The followed run ended: predictions can now be computed."""
        self._training = None
        self.histograms.poll()
        self._maybe_predict()

    @Slot()
    def _maybe_predict(self) -> None:
        if (self.run_dir is None or not self.isVisible()
                or self.pages.currentWidget() is not self.predictions
                or self.predictions.busy or self.predictions.run_dir == self.run_dir):
            return
        if self._training == self.run_dir:
            self.predictions.summary.setText("The run is training: its predictions are "
                                             "computed when it ends.")
            return
        self.predictions.set_run(self.run_dir)

    def showEvent(self, event) -> None:  # noqa: ANN001 - Qt's signature
        super().showEvent(event)
        self._maybe_predict()

    # ------------------------------------------------------------------ run-tab protocol
    @property
    def running(self) -> bool:
        return False  # it trains nothing; a prediction never holds up a training run

    @property
    def paused(self) -> bool:
        return False

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def stop(self) -> None:
        self.predictions.cancel()

    def confirm_stop(self, _action: str) -> bool:
        return True

    def shutdown(self) -> None:
        self.predictions.shutdown()
