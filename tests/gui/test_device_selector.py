"""The train panel's device selector: detected devices in, `strategy`/`devices` settings out."""

from __future__ import annotations

from PySide6.QtCore import Qt

from resnet_studio.gui.training.panel import TrainPanel


def check(panel: TrainPanel, name: str) -> None:
    item = panel.device_list.findItems(name, Qt.MatchFlag.MatchExactly)[0]
    item.setCheckState(Qt.CheckState.Checked)


def test_mirrored_over_checked_devices_reaches_the_config(qtbot):
    panel = TrainPanel()
    qtbot.addWidget(panel)
    assert panel.config().strategy == "default"
    panel.set_devices(["CPU:0", "GPU:0", "GPU:1"])
    assert panel.devices() == ["CPU:0", "GPU:0", "GPU:1"]
    assert "GPU:0" in panel.devices_note.text()  # the default strategy's device
    assert not panel.device_list.isEnabled()  # devices only matter when mirrored

    panel.set_value("strategy", "mirrored")
    assert panel.device_list.isEnabled()
    assert "2 replicas (GPU:0, GPU:1)" in panel.devices_note.text()  # none checked: all GPUs
    check(panel, "GPU:1")
    check(panel, "GPU:0")
    cfg = panel.config()
    assert (cfg.strategy, cfg.devices) == ("mirrored", "GPU:0,GPU:1")
    assert f"{cfg.batch_size / 2:g} examples per replica" in panel.devices_note.text()

    panel.set_state("running")  # no changes while a run goes on
    assert not panel.strategy_combo.isEnabled() and not panel.device_list.isEnabled()


def test_one_device_machine_cannot_pick_mirrored_nor_multi_worker(qtbot):
    panel = TrainPanel()
    qtbot.addWidget(panel)
    panel.set_devices(["CPU:0"])
    model = panel.strategy_combo.model()
    assert not model.item(panel.strategy_combo.findData("mirrored")).isEnabled()
    # Multi-worker runs start from the command line on every machine.
    assert not model.item(panel.strategy_combo.findData("multi-worker")).isEnabled()
    assert panel.devices_note.text() == "Trains on the CPU."
