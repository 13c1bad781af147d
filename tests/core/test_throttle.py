"""BatchEnd throttling at the source (core/training/throttle.py): fewer events when the
observer asks, but the first batch, every epoch's last batch and the run's final values
always arrive, in order; the run folder still records every batch."""

from __future__ import annotations

import pytest

from resnet_studio.core.training import events as ev
from resnet_studio.core.training.throttle import BatchThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_throttle_by_time_keeps_the_latest_batch_pending():
    clock = FakeClock()
    # Times in 64ths of a second: exact in binary floating point.
    throttle = BatchThrottle(min_interval_s=10 / 64, clock=clock)
    out = []
    for step in range(1, 101):  # 100 batches, 1/64 s apart
        clock.now = step / 64
        if throttle.offer(step) is not None:
            out.append(step)
    # The first at once, then one per 10/64 s: 1, 11, 21, ..., 91.
    assert out == list(range(1, 101, 10))
    assert throttle.flush() == 100  # the last batch was held back, not lost
    assert throttle.flush() is None
    assert throttle.emitted == len(out) + 1


def test_throttle_by_count_and_both_limits_together():
    clock = FakeClock()
    every_third = BatchThrottle(every=3, clock=clock)
    assert [s for s in range(1, 11) if every_third.offer(s) is not None] == [1, 4, 7, 10]
    both = BatchThrottle(min_interval_s=5 / 64, every=2, clock=clock)
    out = []
    for step in range(1, 21):
        clock.now = step * 2 / 64  # 2 batches = 4/64 s < 5/64 s: time decides, 3 batches
        if both.offer(step) is not None:
            out.append(step)
    assert out == [1, 4, 7, 10, 13, 16, 19]
    # A flush restarts the count: the next batch waits a full interval again.
    assert both.flush() == 20
    clock.now = 21 * 2 / 64
    assert both.offer(21) is None


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="every >= 1"):
        BatchThrottle(every=0)
    with pytest.raises(ValueError, match="min_interval_s"):
        BatchThrottle(min_interval_s=-1)


@pytest.mark.slow
def test_trainer_emits_fewer_batch_events_and_never_loses_an_epoch_end(tmp_path):
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.runs import read_metrics
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig

    events: list[ev.Event] = []
    config = TrainingConfig.from_sources({"epochs": 2, "batch_size": 8, "optimizer": "adam",
                                          "learning_rate": 0.003})
    # One BatchEnd per hour at most: only the first batch and the held-back last batch of
    # each epoch (flushed before its EpochEnd) can reach the observer.
    trainer = Trainer(load_preset("resnet8-digits"), "synthetic-images", config,
                      run_dir=tmp_path / "run", observer=events.append, limit=96,
                      batch_throttle=BatchThrottle(min_interval_s=3600))
    result = trainer.run()
    assert result.status == "completed", result.error
    steps_per_epoch = 12  # 96 examples / 8
    batches = [e for e in events if isinstance(e, ev.BatchEnd)]
    others = [e for e in events if isinstance(e, (ev.Alert, ev.Log))
              and batches[0].step < getattr(e, "step", 0) < 2 * steps_per_epoch]
    assert not others  # nothing else flushed a batch early in this run
    assert [b.step for b in batches] == [1, steps_per_epoch, 2 * steps_per_epoch]

    # Every EpochEnd comes right after the batch it closes, with that batch's values.
    curve = [e for e in events if isinstance(e, (ev.BatchEnd, ev.EpochEnd))]
    for i, e in enumerate(curve):
        if isinstance(e, ev.EpochEnd):
            assert isinstance(curve[i - 1], ev.BatchEnd) and curve[i - 1].step == e.step
    records = read_metrics(tmp_path / "run")
    on_disk = [r for r in records if r["kind"] == "batch"]
    assert [r["step"] for r in on_disk] == list(range(1, 2 * steps_per_epoch + 1))
    last = on_disk[-1]
    assert batches[-1].loss == pytest.approx(last["loss"], rel=1e-6)
    assert batches[-1].metrics["accuracy"] == pytest.approx(last["train_accuracy"], rel=1e-6)
    # Gradient norms are not throttled: one per step (grad_norm_every = 1).
    assert len([e for e in events if isinstance(e, ev.GradNorms)]) == 2 * steps_per_epoch
