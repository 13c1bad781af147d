"""Experiments: the file is validated like a preset, arms share their start and batch order,
every built-in experiment runs end to end at a tiny size, and the numbers are read back from
the run folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from resnet_studio.core.builder import build_model, plain_twin
from resnet_studio.core.experiments.runner import ExperimentRun, Settings, resume_experiment
from resnet_studio.core.experiments.schema import (
    ExperimentError,
    experiment_from_dict,
    experiment_names,
    load_experiment,
    loads_experiment,
)
from resnet_studio.core.experiments.summary import arm_summary, mean_sd
from resnet_studio.core.presets import load_preset
from resnet_studio.core.spec import spec_from_dict
from resnet_studio.core.training.shared_start import SharedStart

BUILT_IN = ("clipping", "degradation", "norm-placement", "optimizers", "preactivation",
            "residual-scaling", "shortcuts")


def small_experiment(**kw) -> dict:
    """Three arms on resnet8-digits: residual, plain (no shortcut) and deeper + zero γ."""
    return {"name": "small", "preset": "resnet8-digits", "dataset": "digits", "seeds": 1,
            "training": {"batch_size": 16, "epochs": 1},
            "arms": [{"name": "residual"},
                     {"name": "plain", "architecture": {"shortcut": "none"}},
                     {"name": "deeper", "architecture": {"repeat": 2,
                                                         "zero_init_residual": True}}],
            **kw}


# --------------------------------------------------------------------------- the file
def test_built_in_experiments_are_listed_and_valid():
    assert tuple(experiment_names()) == BUILT_IN
    for name in BUILT_IN:
        e = load_experiment(name)
        assert e.name == name and e.claim and e.citation and e.description
        assert len({a.name for a in e.arms}) == len(e.arms) >= 2
        for arm in e.arms:  # every arm builds a valid architecture
            spec = e.arm_spec(arm)
            assert spec.blocks


def test_degradation_arms_are_plain_and_residual_at_three_depths():
    e = load_experiment("degradation")
    names = [a.name for a in e.arms]
    assert names == ["plain-8", "plain-20", "plain-56", "residual-8", "residual-20",
                     "residual-56"]
    for arm in e.arms:
        spec = e.arm_spec(arm)
        stages = [b for b in spec.blocks if b.type == "basic_block"]
        depth = 6 * stages[0].params["repeat"] + 2
        shortcut = stages[0].params["shortcut"]
        assert arm.name == f"{'plain' if shortcut == 'none' else 'residual'}-{depth}"
    assert e.seeds == 3


@pytest.mark.parametrize("change, field", [
    ({"arms": [{"name": "a", "architecture": {"repet": 2}}]}, "arms[0].architecture.repet"),
    ({"arms": [{"name": "a", "architecture": {"repeat": 0}}]}, "arms[0].architecture.repeat"),
    ({"arms": [{"name": "a", "training": {"optimizer": "lion"}}]},
     "arms[0].training.optimizer"),
    ({"arms": [{"name": "a", "blocks": {"stage9": {"repeat": 2}}}]}, "arms[0].blocks.stage9"),
    ({"arms": [{"name": "a"}, {"name": "a"}]}, "arms[1].name"),
    ({"arms": []}, "arms"),
    ({"seeds": "three"}, "seeds"),
    ({"preset": "no-such-preset"}, "preset"),
    ({"training": {"learning_rate": 0}}, "training.learning_rate"),
    ({"colour": "blue"}, "colour"),
    ({"arms": [{"name": "a b"}]}, "arms[0].name"),
    ({"training": {"milestone_unit": "epoch", "step_milestones": "10,20"},  # merged: wrong
      "arms": [{"name": "a", "training": {"milestone_unit": "fraction"}}]},
     "arms[0] (a): training.step_milestones"),
    ({"arms": [{"name": "a", "architecture": {"shortcut": "sideways"}}]},
     "arms[0].architecture.shortcut"),
    ({"arms": [{"name": "a", "insert_after": {"stage9": []}}]}, "arms[0].insert_after.stage9"),
    ({"arms": [{"name": "a", "insert_after": {"stage3": {"type": "batch_norm"}}}]},
     "arms[0].insert_after.stage3"),
    ({"arms": [{"name": "a", "insert_after": {"stage3": [{"type": "batch_nrom"}]}}]},
     "arms[0] (a): blocks[4].type"),
    ({"arms": [{"name": "a", "insert_after": {"stage3": [{"name": "x"}]}}]},
     "arms[0].insert_after.stage3[0].type"),
])
def test_a_malformed_experiment_is_refused_naming_the_field(change, field):
    data = {**small_experiment(), **change}
    with pytest.raises(ExperimentError) as info:
        experiment_from_dict(data, "my-experiment.json")
    message = str(info.value)
    assert message.startswith("my-experiment.json: ")
    assert field in message


def test_experiment_text_is_parsed_defensively():
    with pytest.raises(ExperimentError, match="x.json: not valid JSON"):
        loads_experiment("{", "x.json")
    with pytest.raises(ExperimentError, match="x.json: .*finite"):
        loads_experiment('{"name": NaN}', "x.json")
    with pytest.raises(ExperimentError, match="no experiment named 'nope'"):
        load_experiment("nope")


def test_overrides_reach_every_block_that_has_the_parameter():
    e = experiment_from_dict(small_experiment(), "x")
    deeper = e.arm_spec(e.arms[2])
    stages = [b for b in deeper.blocks if b.type == "basic_block"]
    assert len(stages) == 3
    assert all(b.params["repeat"] == 2 and b.params["zero_init_residual"] for b in stages)
    assert not any("repeat" in b.params for b in deeper.blocks if b.type != "basic_block")
    base = e.base_spec()
    assert [b.to_dict() for b in e.arm_spec(e.arms[0]).blocks] == \
        [b.to_dict() for b in base.blocks]


def test_an_arm_inserts_blocks_after_a_named_block():
    """The preactivation experiment's v2 arm is a pre-activation net as He et al. 2016b
    build it: no batch norm in the stem, and a final BN-ReLU after the last unit, before the
    pooling; its v1 arm has neither change."""
    e = load_experiment("preactivation")
    v1, v2 = (e.arm_spec(a) for a in e.arms)
    assert [b.name or b.type for b in v2.blocks] == [
        "stem", "stage1", "stage2", "stage3", "final_bn", "final_relu", "global_pool",
        "classifier_head"]
    assert [b.type for b in v2.blocks[4:6]] == ["batch_norm", "activation"]
    assert v2.blocks[5].params["function"] == "relu"
    assert v2.blocks[0].params["norm"] is False
    assert all(b.params["variant"] == "v2" for b in v2.blocks if b.type == "basic_block")
    assert [b.type for b in v1.blocks] == [b.type for b in e.base_spec().blocks]
    assert "insert_after" in e.to_dict()["arms"][1]  # round-trips through the file format
    again = experiment_from_dict(e.to_dict(), "again")
    assert again.arm_spec(again.arms[1]).to_dict()["blocks"] == v2.to_dict()["blocks"]


def test_mean_sd_is_the_sample_statistic():
    s = mean_sd([1.0, 2.0, None, 4.0])
    assert s["n"] == 3 and s["mean"] == pytest.approx(7 / 3)
    assert s["sd"] == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    assert mean_sd([None]) == {"mean": None, "sd": None, "n": 0}
    arm = arm_summary("a", [{"run_dir": "r0", "status": "completed", "params": 5, "seconds": 2,
                             "final_train_loss": 0.5},
                            {"run_dir": "r1", "status": "failed", "params": 5, "seconds": 4,
                             "final_train_loss": None}])
    assert arm["runs"] == ["r0", "r1"] and arm["seconds"] == 3 and arm["params"] == 5
    assert arm["final_train_loss"]["mean"] == 0.5 and arm["statuses"][1] == "failed"


# --------------------------------------------------------------------------- shared start
def test_arms_share_initial_weights_of_shared_layers_and_the_batch_order(tmp_path):
    e = experiment_from_dict(small_experiment(), "x")
    run = ExperimentRun(e, tmp_path / "exp", settings=Settings(limit=64))
    start = SharedStart()
    trainers = {}
    for arm in e.arms:
        t = run._trainer(arm, 0, resume=False)
        t.prepare()
        start.share(t.model)
        trainers[arm.name] = t
    res, plain, deeper = (trainers[n].layer_weights() for n in ("residual", "plain", "deeper"))
    assert set(plain) < set(res) and all("proj" in n for n in set(res) - set(plain))
    extra = set(deeper) - set(res)  # the second unit of every stage
    assert extra and all(n.split("_")[1] == "2" for n in extra), extra
    shared = 0
    for other in (plain, deeper):
        for name, weights in other.items():
            if name not in res:
                continue
            zero_gamma = name.endswith("bn2") and other is deeper
            for a, b in zip(weights, res[name], strict=True):
                if zero_gamma:
                    continue
                np.testing.assert_array_equal(a, b, err_msg=name)
                shared += 1
    assert shared > 20
    # Goyal et al.'s zero γ survives the sharing: the deeper arm's branches start at zero.
    gammas = [w[0] for n, w in deeper.items() if n.endswith("bn2")]
    assert gammas and all(not g.any() for g in gammas)
    assert all(w[0].all() for n, w in res.items() if n.endswith("bn2"))
    # The same batches in the same order (labels of the first batches).
    labels = {n: [np.asarray(y) for _, y in t.train_ds.take(3)] for n, t in trainers.items()}
    for name in ("plain", "deeper"):
        for a, b in zip(labels["residual"], labels[name], strict=True):
            np.testing.assert_array_equal(a, b)
    assert len(np.unique(np.concatenate(labels["residual"]))) > 1


def test_a_zero_started_gamma_never_reaches_an_arm_without_it():
    """The plain twin of a zero-γ residual net (compare's order: residual first) keeps γ = 1;
    loading the residual's zeros would silence every plain unit for good (ReLU(0) has no
    gradient)."""
    spec = load_preset("resnet8-digits")
    spec = spec_from_dict({**spec.to_dict(), "blocks": [
        {**b, "params": {**b.get("params", {}), "zero_init_residual": True}}
        if b["type"] == "basic_block" else b for b in spec.to_dict()["blocks"]]})
    residual, plain = build_model(spec).model, build_model(plain_twin(spec)).model
    start = SharedStart()
    start.share(residual)
    start.share(plain)

    def gammas(model):
        return {ly.name: ly.get_weights()[0] for ly in model.layers if ly.name.endswith("bn2")}
    assert gammas(residual) and all(not g.any() for g in gammas(residual).values())
    assert gammas(plain).keys() == gammas(residual).keys()
    assert all((g == 1).all() for g in gammas(plain).values())
    # Shared layers other than the zero γ's batch norms still start equal.
    conv = next(ly.name for ly in residual.layers if "conv" in ly.name and ly.get_weights())
    np.testing.assert_array_equal(residual.get_layer(conv).get_weights()[0],
                                  plain.get_layer(conv).get_weights()[0])


def test_shared_start_round_trips_through_disk(tmp_path):
    start = SharedStart({"a": [np.arange(3.0)], "b": [np.ones((2, 2)), np.zeros(2)]})
    start.save(tmp_path / "s.npz")
    back = SharedStart.load(tmp_path / "s.npz")
    assert set(back.weights) == {"a", "b"} and len(back.weights["b"]) == 2
    np.testing.assert_array_equal(back.weights["b"][0], np.ones((2, 2)))
    assert SharedStart.load(tmp_path / "missing.npz").weights == {}


# --------------------------------------------------------------------------- running
TINY = Settings(seeds=1, epochs=1, limit=32, architecture={"repeat": 1},
                training={"batch_size": 32})


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_experiment_runs_end_to_end_at_a_tiny_size(name, tmp_path):
    e = load_experiment(name)
    seen: list[tuple[str, int, bool]] = []
    run = ExperimentRun(e, tmp_path / name, settings=TINY,
                        progress=lambda arm, seed, s, skipped: seen.append((arm, seed, skipped)))
    arms = run.run()
    assert [a["name"] for a in arms] == [a.name for a in e.arms]
    assert seen == [(a.name, run.seeds[0], False) for a in e.arms]
    manifest = json.loads((tmp_path / name / "experiment.json").read_text())
    assert manifest["experiment"]["name"] == name and manifest["seeds"] == run.seeds
    for a in arms:
        assert len(a["runs"]) == 1 and a["statuses"][0] in ("completed", "failed")
        meta = json.loads((tmp_path / name / a["runs"][0] / "run.json").read_text())
        assert meta["experiment"] == {"name": name, "folder": name, "arm": a["name"],
                                      "seed": run.seeds[0]}
        if a["statuses"][0] == "completed":
            assert a["final_train_loss"]["n"] == 1 and a["final_train_loss"]["mean"] > 0
            assert 0 <= a["test_accuracy"]["mean"] <= 1 and a["params"] > 0


@pytest.mark.slow
def test_a_stopped_experiment_resumes_without_rerunning_finished_arms(tmp_path):
    e = experiment_from_dict(small_experiment(), "x")
    folder = tmp_path / "exp"
    stop_after: list[str] = []

    def progress(arm, seed, summary, skipped):
        stop_after.append(arm)
        run.request_stop()  # an interruption right after the first arm

    run = ExperimentRun(e, folder, settings=Settings(limit=48), progress=progress)
    run.run()
    assert stop_after == ["residual"]
    first = json.loads((folder / "residual-seed0" / "run.json").read_text())
    assert not (folder / "plain-seed0").exists()
    events: list[tuple[str, bool]] = []
    again = resume_experiment(folder, progress=lambda a, s, x, skipped: events.append(
        (a, skipped)))
    arms = again.run()
    assert events == [("residual", True), ("plain", False), ("deeper", False)]
    assert json.loads((folder / "residual-seed0" / "run.json").read_text()) == first
    assert [a["statuses"] for a in arms] == [["completed"]] * 3
    from resnet_studio.core.runs import list_runs

    listed = {r.dir.name for r in list_runs(tmp_path)}  # the run store sees every arm's run
    assert listed == {"residual-seed0", "plain-seed0", "deeper-seed0"}
