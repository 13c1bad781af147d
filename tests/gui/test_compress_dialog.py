"""The Compress panel: a run's sparsity/accuracy curve read from its pruned children, the
plain twin's overlaid, and bad sparsities refused in the dialog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resnet_studio.core.compress.curves import curves_for, sparsity_curve
from resnet_studio.core.runs import list_runs, read_run


def _run(root: Path, name: str, **meta) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"id": name, "status": "completed", **meta}))
    return d


@pytest.fixture()
def store(tmp_path) -> Path:
    """A residual run and its plain twin, each with pruned children (one failed, one of a
    branch removal, one of another parent)."""
    root = tmp_path / "runs"
    res = _run(root, "res", test={"accuracy": 0.98},
               compare={"role": "residual", "partner": "plain"})
    plain = _run(root, "plain", test={"accuracy": 0.97},
                 compare={"role": "plain", "partner": "res"})
    for name, parent, s, acc in (("r50", res, 0.5, 0.979), ("r80", res, 0.8, 0.975),
                                 ("p80", plain, 0.8, 0.966)):
        _run(root, name, parent=str(parent), pruning={"sparsity": s, "structured": False},
             sparsity={"sparsity": s}, test={"accuracy": acc})
    _run(root, "r90-failed", parent=str(res), pruning={"sparsity": 0.9}, status="failed")
    _run(root, "r-branch", parent=str(res), pruning={"sparsity": 0.0, "blocks": ["stage3_1"]},
         sparsity={"sparsity": 0.7175}, test={"accuracy": 0.9667})
    return root


def test_curves_come_from_the_children_and_the_twin(store):
    runs = list_runs(store)
    curve = sparsity_curve(store / "res", runs)
    assert curve["dense"] == 0.98
    assert [(p["sparsity"], p["accuracy"]) for p in curve["points"]] == [
        (0.5, 0.979), (0.7175, 0.9667), (0.8, 0.975)]  # failed child left out
    both = curves_for(read_run(store / "plain"), runs)
    assert set(both) == {"residual", "plain"}
    assert [p["accuracy"] for p in both["plain"]["points"]] == [0.966]
    alone = curves_for(read_run(store / "r80"), runs)
    assert list(alone) == ["run"] and alone["run"]["points"] == []


def test_dialog_overlays_residual_and_plain(qtbot, styled_qapp, store):
    from resnet_studio.gui.training.compress_dialog import CompressDialog

    dialog = CompressDialog(read_run(store / "res"))
    qtbot.addWidget(dialog)
    # The dense point at 0, then the pruned runs; branch removals are not on the curve.
    assert dialog.curve_data("residual") == ([0.0, 0.5, 0.8], [0.98, 0.979, 0.975])
    assert dialog.curve_data("plain") == ([0.0, 0.8], [0.97, 0.966])
    items = dialog.plot.getPlotItem().listDataItems()
    assert [item.name() for item in items] == ["residual", "plain"]
    assert "3 pruned run(s)" in dialog.summary.text()
    dialog.sparsity_edit.setText("0.5, 1.5")
    dialog.start_pruning()
    assert dialog.job is None and "[0, 1)" in dialog.status.text()


@pytest.mark.slow
def test_prune_button_fine_tunes_a_new_run_and_redraws(qtbot, styled_qapp, tmp_path):
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig
    from resnet_studio.gui.training.compress_dialog import CompressDialog
    from tests.tiny_models import tiny_residual_cnn

    spec = tiny_residual_cnn("gui-prune")
    cfg = TrainingConfig.from_sources(spec.training, {"epochs": 1, "batch_size": 32})
    parent = tmp_path / "runs" / "parent"
    assert Trainer(spec, "digits", cfg, run_dir=parent, limit=320).run().status == "completed"
    dialog = CompressDialog(read_run(parent))
    qtbot.addWidget(dialog)
    assert dialog.curve_data("run")[0] == [0.0]
    dialog.sparsity_edit.setText("0.6")
    dialog.epochs_spin.setValue(1)
    dialog.start_pruning()
    assert dialog.job is not None and not dialog.prune_button.isEnabled()
    # The job's reports reach the GUI thread through its event loop, which only runs in here.
    with qtbot.waitSignal(dialog.job.finished, timeout=300_000) as blocker:
        pass
    (outcome,) = blocker.args[0]
    assert outcome["status"] == "completed" and outcome["sparsity"] == 0.6
    xs, _ = dialog.curve_data("run")
    assert xs[0] == 0.0 and xs[1] == pytest.approx(0.6, abs=0.01)
    assert dialog.prune_button.isEnabled() and "1 pruned run(s) added" in dialog.status.text()


@pytest.fixture(scope="module")
def trained_pair(tmp_path_factory) -> Path:
    """A tiny residual run and its plain twin (one epoch each), linked as a comparison. The
    second unit widens 8 -> 16 channels: the plain twin cannot lose it."""
    from resnet_studio.core.builder import plain_twin
    from resnet_studio.core.runs.pairs import pair_meta
    from resnet_studio.core.runs.store import update_meta
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig
    from tests.tiny_models import tiny_residual_cnn

    spec = tiny_residual_cnn("gui-views", {"filters": 8}, {"filters": 16, "stride": 2})
    root = tmp_path_factory.mktemp("pair") / "runs"
    cfg = TrainingConfig.from_sources(spec.training, {"epochs": 1, "batch_size": 32})
    for role, s in (("residual", spec), ("plain", plain_twin(spec))):
        result = Trainer(s, "digits", cfg, run_dir=root / role, limit=320).run()
        assert result.status == "completed", result.error
    update_meta(root / "residual", **pair_meta("residual", root / "plain"))
    update_meta(root / "plain", **pair_meta("plain", root / "residual"))
    return root


@pytest.mark.slow
def test_branch_view_overlays_residual_and_plain_removal(qtbot, styled_qapp, trained_pair):
    from resnet_studio.gui.training.compress_dialog import CompressDialog

    dialog = CompressDialog(read_run(trained_pair / "residual"))
    qtbot.addWidget(dialog)
    view = dialog.branches
    assert view.runs == {"residual": str(trained_pair / "residual"),
                         "plain": str(trained_pair / "plain")}
    with qtbot.waitSignal(view.row.done, timeout=300_000) as blocker:
        view.start()
    result = blocker.args[0]
    assert set(result) == {"residual", "plain"}
    res, plain = result["residual"], result["plain"]
    # Every residual unit can go (its shortcut stays); the plain twin only loses the unit
    # that keeps its input's shape, the widening one has no path around it.
    assert res["skipped"] == [] and len(res["points"]) == 3
    assert len(plain["skipped"]) == 1 and len(plain["points"]) == 2
    ks, accs = view.curve_data("residual")
    assert ks == [0, 1, 2] and all(0.0 <= a <= 1.0 for a in accs)
    # The least damaging unit (by validation) is removed first, then both.
    assert res["points"][1]["removed"] == [res["ranked"][0]["unit"]]
    assert sorted(res["points"][2]["removed"]) == sorted(r["unit"] for r in res["ranked"])
    assert accs[0] == pytest.approx(read_run(trained_pair / "residual").meta["test"]["accuracy"],
                                    abs=1e-6)
    names = [item.name() for item in view.plot.getPlotItem().listDataItems()]
    assert names == ["residual", "plain"]
    assert "cannot remove" in view.summary.text() and view.row.start_button.isEnabled()


@pytest.mark.slow
def test_quantization_view_fills_table_and_bars_and_stops(qtbot, styled_qapp, trained_pair):
    from resnet_studio.gui.compress.quant_view import QuantizationView

    view = QuantizationView(str(trained_pair / "residual"))
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.row.done, timeout=600_000) as blocker:
        view.start()
    rows = blocker.args[0]
    assert [r["mode"] for r in rows] == ["float32", "dynamic", "float16", "int8"]
    sizes = {r["mode"]: r["size_bytes"] for r in rows}
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]
    assert all(r["float32_size_bytes"] == sizes["float32"] for r in rows)
    assert view.table.rowCount() == 4 and view.table.item(3, 0).text() == "int8"
    assert view.bar_values("size_kb") == [pytest.approx(s / 1000) for s in sizes.values()]
    bars = [i for i in view.plots["accuracy_pct"].getPlotItem().items
            if type(i).__name__ == "BarGraphItem"]
    assert len(bars) == 1
    # Stop after the first export: the job ends between two exports with what it measured.
    with qtbot.waitSignal(view.row.done, timeout=600_000) as blocker:
        view.row.partial.connect(lambda row: view.row.stop())
        view.start()
    assert view.rows and len(view.rows) < 4 and blocker.args[0] is not None
    assert view.row.start_button.isEnabled() and not view.row.stop_button.isEnabled()


def test_a_mode_the_model_cannot_take_is_a_row_not_a_failure(qtbot, styled_qapp, monkeypatch,
                                                             tmp_path):
    """int8 of a token model (or an op TFLite lacks) says so in its row; the other modes are
    still measured, and the bars show only those."""
    import resnet_studio.core.compress.quantize as quantize
    from resnet_studio.core.compress.views import quantization_job
    from resnet_studio.core.jobs import JobState
    from resnet_studio.gui.compress.quant_view import QuantizationView

    def fake_export(info, out, mode, **_):
        if mode == "int8":
            raise quantize.QuantizationError("full-integer (int8) quantization needs one "
                                             "float input")
        size = {None: 4000, "dynamic": 1200, "float16": 2000}[mode]
        return {"size_bytes": size, "compressed_size_bytes": size - 100,
                "float32_size_bytes": 4000, "accuracy": 0.9, "reference_accuracy": 0.91,
                "latency_ms": 0.1, "latency_p90_ms": 0.2}

    monkeypatch.setattr(quantize, "export_tflite_run", fake_export)
    run = _run(tmp_path, "r", test={"accuracy": 0.91})
    rows = quantization_job(str(run), JobState())
    assert [r["mode"] for r in rows] == ["float32", "dynamic", "float16", "int8"]
    assert "float input" in rows[3]["error"] and "size_bytes" not in rows[3]
    view = QuantizationView(str(run))
    qtbot.addWidget(view)
    view.rows = rows
    view.redraw()
    assert view.table.item(3, 1).text().startswith("not possible: full-integer")
    assert view.table.item(1, 3).text() == "30.0%"
    assert view.bar_values("size_kb") == [4.0, 1.2, 2.0]
