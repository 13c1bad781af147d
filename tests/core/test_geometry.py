"""Lesion studies, loss landscapes and Hessian eigenvalues (core/geometry): the lesion model
computes what the architecture without the deleted unit computes, directions are
filter-normalised, power iteration and float64 Lanczos find the exact Hessian's extreme
eigenvalues (Lanczos also a tiny negative one, with an honest error bound), the
landscape's centre is the run's loss, and a cancelled study leaves no file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from resnet_studio.cli.main import main
from resnet_studio.core.blocks.context import Binding
from resnet_studio.core.builder import build_model, plain_twin
from resnet_studio.core.geometry.eigenmap import eigen_axis, eigen_map
from resnet_studio.core.geometry.hessian import (
    LossFunction,
    extreme_eigenvalues,
    float64_loss,
    lanczos_extremes,
)
from resnet_studio.core.geometry.landscape import (
    LandscapeSettings,
    cache_path,
    filter_normalized_direction,
    landscape_study,
)
from resnet_studio.core.geometry.lesion import LesionModel
from resnet_studio.core.geometry.runmodel import (
    Cancelled,
    cross_entropy,
    open_run,
    split_arrays,
)
from resnet_studio.core.presets import load_preset
from resnet_studio.core.spec import spec_from_dict


def _chain(names: list[str], shortcut: str = "identity") -> dict:
    """dense -> residual units named `names` (each a dense branch) -> classifier."""
    units = [{"type": "residual", "name": n, "params": {"shortcut": shortcut},
              "blocks": [{"type": "dense", "params": {"units": 8, "activation": "tanh"}}]}
             for n in names]
    return {"schema_version": 1, "name": "chain", "input": {"kind": "vector", "shape": [5]},
            "blocks": [{"type": "dense", "name": "embed", "params": {"units": 8}}, *units,
                       {"type": "classifier_head", "name": "head", "params": {"classes": 3}}]}


@pytest.mark.parametrize("shortcut", ["identity", "none"])
def test_deleting_a_unit_computes_what_the_spec_without_it_computes(shortcut):
    import keras

    keras.utils.set_random_seed(3)
    spec = spec_from_dict(_chain(["r1", "r2", "r3"], shortcut))
    trained = build_model(spec).model
    lesion = LesionModel(spec, Binding(), trained)
    x = np.random.default_rng(0).standard_normal((16, 5)).astype(np.float32)

    full = np.asarray(trained(x, training=False))
    np.testing.assert_allclose(lesion.logits(x), full, rtol=1e-6, atol=1e-6)

    lesion.set_removed({"r2"})
    without = build_model(spec_from_dict(_chain(["r1", "r3"], shortcut))).model
    # The spec without r2 has a subset of the layers: copy the trained ones by name.
    for layer in without.layers:
        if layer.weights:
            layer.set_weights(trained.get_layer(layer.name).get_weights())
    expected = np.asarray(without(x, training=False))
    np.testing.assert_allclose(lesion.logits(x), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected, full, atol=1e-3)  # deleting r2 did change something


def test_plain_units_that_change_shape_are_named_and_skipped():
    spec = load_preset("resnet8-digits")
    binding = Binding(input_shape=(8, 8, 1), num_classes=10)
    residual = build_model(spec, binding, lesion_gates=True)
    assert [(u.name, u.removable) for u in residual.units] == [
        ("stage1_1", True), ("stage2_1", True), ("stage3_1", True)]
    plain = build_model(plain_twin(spec), binding, lesion_gates=True)
    assert [(u.name, u.residual, u.removable) for u in plain.units] == [
        ("stage1_1", False, True), ("stage2_1", False, False), ("stage3_1", False, False)]
    # Without gates the model is the one training builds: no extra layer.
    assert not any("gate" in layer.name for layer in build_model(spec, binding).model.layers)


def test_filter_normalised_direction_has_the_weights_filter_norms():
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal((3, 3, 2, 4)).astype(np.float32),
               (5 * rng.standard_normal((6, 7))).astype(np.float32),
               rng.standard_normal((7,)).astype(np.float32)]
    d = filter_normalized_direction(weights, np.random.default_rng(2))
    for w, u in zip(weights[:2], d[:2], strict=True):
        axes = tuple(range(w.ndim - 1))
        w_norm = np.sqrt((w.astype(np.float64) ** 2).sum(axis=axes))
        u_norm = np.sqrt((u.astype(np.float64) ** 2).sum(axis=axes))
        np.testing.assert_allclose(u_norm, w_norm, rtol=1e-6)
        assert not np.allclose(u, w)  # a random direction, not the weights
    assert not d[2].any()  # biases (rank < 2) are left at zero


def _tiny_loss() -> LossFunction:
    import keras

    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"),
                              keras.layers.Dense(3)])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 4)).astype(np.float32)
    y = rng.integers(0, 3, 48).astype(np.int32)
    return LossFunction(model, x, y)


def _exact_hessian(fn: LossFunction, point: list[np.ndarray] | None = None) -> np.ndarray:
    """The full Hessian as the Jacobian of the gradient (in the model's dtype, symmetrised),
    at the trained weights or at `point`."""
    import tensorflow as tf

    weights = fn.trained if point is None else point
    flat = tf.constant(np.concatenate([np.asarray(w, fn.dtype.as_numpy_dtype).reshape(-1)
                                       for w in weights]))
    with tf.GradientTape() as outer:
        outer.watch(flat)
        with tf.GradientTape() as inner:
            inner.watch(flat)
            loss = fn.loss(fn.unflatten(flat))
        grad = inner.gradient(loss, flat)
    h = np.asarray(outer.jacobian(grad, flat), dtype=np.float64)
    return (h + h.T) / 2


def test_power_iteration_finds_the_exact_hessians_extreme_eigenvalues():
    fn = _tiny_loss()
    h = _exact_hessian(fn)
    v = np.random.default_rng(5).standard_normal(fn.size)
    np.testing.assert_allclose(fn.hvp(v), h @ v, rtol=1e-4, atol=1e-5)
    exact = np.linalg.eigvalsh(h)
    hi, lo = extreme_eigenvalues(fn.hvp, fn.size, iterations=20000, tol=1e-9)
    assert hi.converged and lo.converged
    assert exact[0] < 0 < exact[-1]  # the case that needs the shift
    assert hi.value == pytest.approx(exact[-1], rel=1e-3)
    assert lo.value == pytest.approx(exact[0], rel=1e-3)


def _tiny_loss64() -> tuple[LossFunction, LossFunction]:
    """(the float32 tiny loss, its float64 twin)."""
    import keras

    fn32 = _tiny_loss()

    keras.config.set_dtype_policy("float64")
    try:
        twin = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"),
                                 keras.layers.Dense(3)])
    finally:
        keras.config.set_dtype_policy("float32")
    twin.set_weights(fn32.model.get_weights())
    x, y = fn32.chunks[0]
    return fn32, LossFunction(twin, np.asarray(x, np.float64), np.asarray(y))


def test_float64_lanczos_finds_the_exact_hessians_extreme_eigenvalues():
    """The float64 copy of the model computes the same loss, and Lanczos on its
    Hessian-vector products gives both ends of the exact Hessian's spectrum to 1e-9, each
    within the error it reports (float64 throughout: tight tolerances are safe)."""
    import keras

    fn32, fn = _tiny_loss64()
    assert fn.dtype.name == "float64" and keras.config.dtype_policy().name == "float32"
    assert float(fn.loss(fn.trained)) == pytest.approx(float(fn32.loss(fn32.trained)), rel=1e-6)
    exact = np.linalg.eigvalsh(_exact_hessian(fn))
    assert exact[0] < 0 < exact[-1]
    hi, lo = lanczos_extremes(fn.hvp, fn.size, steps=fn.size, tol=1e-12)
    assert hi.converged and lo.converged and hi.iterations <= fn.size
    for eig, want in ((hi, exact[-1]), (lo, exact[0])):
        assert eig.value == pytest.approx(want, rel=1e-9)
        assert abs(eig.value - want) <= eig.error + 1e-15


def test_eigen_map_gives_the_exact_hessians_ratio_at_each_grid_point():
    """The |λ_min/λ_max| map (Li et al. 2018, section 6) at grid points away from θ* equals
    the ratio of the exact Hessian (full Jacobian of the gradient) at θ* + α·δ + β·η, and at
    the centre the trained point's; the ratio differs across the plane (not a constant)."""
    fn32, fn = _tiny_loss64()
    rng = np.random.default_rng(3)
    dirs = (filter_normalized_direction(fn.trained, rng),
            filter_normalized_direction(fn.trained, rng))
    axis = eigen_axis(3, 0.8)
    emap = eigen_map(fn, dirs, axis, steps=fn.size, tol=1e-12, seed=0)
    assert emap.ratio.shape == (3, 3) and emap.converged.all() and axis[1] == 0.0
    for i, j in ((0, 2), (2, 1), (1, 1)):
        point = [w + axis[i] * u + axis[j] * v
                 for w, u, v in zip(fn.trained, *dirs, strict=True)]
        exact = np.linalg.eigvalsh(_exact_hessian(fn, point))
        assert emap.ratio[i, j] == pytest.approx(abs(exact[0] / exact[-1]), rel=1e-3)
        assert emap.ratio_error[i, j] < 1e-6 * emap.ratio[i, j]
    assert np.ptp(emap.ratio) > 0.01 * emap.ratio_mean
    assert emap.ratio_mean == pytest.approx(np.mean(emap.ratio))
    assert emap.ratio_max == np.max(emap.ratio)


def test_lanczos_resolves_a_tiny_negative_eigenvalue_that_power_iteration_misses():
    """A symmetric matrix with the spectrum of a trained network's Hessian: λ_max = 1, 398
    eigenvalues spread over [1e-3, 1e-1], and one negative eigenvalue 1e-5·λ_max. Lanczos
    finds λ_min = −1e-5 to 1e-4 relative, within its reported error; its λ_min is never
    below the true one (interlacing) even when stopped early. Shifted power iteration (fed
    float32 products, as on a float32 model) reports a positive λ_min: it cannot see it."""
    n = 400
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([[1.0, -1e-5], 10 ** rng.uniform(-3, -1, n - 2)])
    a = (q * lam) @ q.T
    hi, lo = lanczos_extremes(lambda v: a @ v, n, steps=200, tol=1e-9)
    assert hi.converged and lo.converged and lo.iterations < 200
    assert hi.value == pytest.approx(1.0, rel=1e-9)
    assert lo.value == pytest.approx(-1e-5, rel=1e-4)
    assert abs(lo.value + 1e-5) <= lo.error and lo.error < 1e-6  # resolved from 0
    _, early = lanczos_extremes(lambda v: a @ v, n, steps=20)
    assert not early.converged and early.value >= -1e-5 - 1e-12
    _, power = extreme_eigenvalues(lambda v: a @ v.astype(np.float32), n, iterations=2000,
                                   tol=1e-5)
    assert power.value > 0


def test_float64_loss_copies_a_built_architecture():
    """float64_loss rebuilds a spec's model in float64 with the trained weights: the same
    loss as the float32 model (to float32 rounding), the global policy left as it was."""
    import keras

    spec = spec_from_dict(_chain(["a", "b"]))
    binding = Binding()
    model = build_model(spec, binding).model
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16).astype(np.int32)
    fn64 = float64_loss(model, spec, binding, x, y)
    fn32 = LossFunction(model, x, y)
    assert fn64.dtype.name == "float64" and keras.config.dtype_policy().name == "float32"
    assert fn64.size == fn32.size
    assert float(fn64.loss(fn64.trained)) == pytest.approx(float(fn32.loss(fn32.trained)),
                                                            rel=1e-5)


@pytest.fixture(scope="module")
def sigmoid_run(tmp_path_factory):
    """lab-sigmoid-mlp trained 2 epochs on 320 digits (Adam: stable in so few steps)."""
    run_dir = tmp_path_factory.mktemp("geo") / "run"
    code = main(["train", "lab-sigmoid-mlp", "--epochs", "2", "--limit", "320",
                 "--optimizer", "adam", "--lr", "0.002",
                      "--run-dir", str(run_dir), "--json"])
    assert code == 0
    return run_dir


@pytest.mark.slow
def test_landscape_centre_is_the_runs_loss_and_the_result_is_cached(sigmoid_run):
    run = open_run(sigmoid_run)
    settings = LandscapeSettings(grid=5, span=0.5, samples=96, seed=4, hessian=True,
                                 iterations=30, hessian_samples=32)
    result = landscape_study(sigmoid_run, settings, run=run)
    x, y = split_arrays(run.data, "train", 96, seed=4)
    loss, _ = cross_entropy(np.asarray(run.model(x, training=False)), y)
    assert result.center_loss == pytest.approx(loss, rel=1e-5)
    # The line from the initial weights reaches the same point at t = 1.
    assert result.line_loss[result.line_end] == pytest.approx(loss, rel=1e-5)
    assert result.line_loss[result.line_start] > result.line_loss[result.line_end]
    assert result.surface.shape == (5, 5) and np.isfinite(result.surface).all()
    assert result.lambda_max > 0 and result.lambda_max >= result.lambda_min
    assert 0 <= result.lambda_max_error < 1e-3 * result.lambda_max  # float64 Lanczos
    assert result.lambda_min_resolved == (abs(result.lambda_min) > result.lambda_min_error)
    assert result.eigen_ratio == pytest.approx(abs(result.lambda_min / result.lambda_max))
    again = landscape_study(sigmoid_run, settings, run=run)
    assert again.cached and again.file == result.file
    np.testing.assert_array_equal(again.surface, result.surface)


@pytest.mark.slow
def test_a_cancelled_landscape_leaves_no_file(sigmoid_run):
    run = open_run(sigmoid_run)
    calls = []
    settings = LandscapeSettings(grid=7, samples=32, seed=9, hessian=False)
    with pytest.raises(Cancelled):
        landscape_study(sigmoid_run, settings, run=run, cancel=lambda: len(calls) >= 3,
                        progress=lambda done, total, what: calls.append(done))
    assert len(calls) == 3
    assert not cache_path(run, settings).exists()
    folder = sigmoid_run / "geometry"
    # No temporary file either (other tests' finished results may be there).
    assert not [p.name for p in folder.glob(".*")] if folder.exists() else True


@pytest.mark.slow
def test_lesion_cli_json_line(sigmoid_run, capsys):
    code = main(["lesion", str(sigmoid_run), "--draws", "2", "--max-k", "3", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) >= {"run_dir", "baseline", "blocks", "skipped", "mean_drop", "k_curve"}
    assert [b["block"] for b in out["blocks"]] == [f"body_{i}" for i in range(1, 19)]
    assert out["skipped"] == []
    final = json.loads((sigmoid_run / "final.json").read_text())["test"]
    # The lesion model recomputes the logits along another path (same weights): equal up to
    # rounding, so at most one test example near a tie may change class.
    assert out["baseline"]["accuracy"] == pytest.approx(final["accuracy"],
                                                        abs=1 / final["examples"] + 1e-9)
    assert out["baseline"]["loss"] == pytest.approx(final["loss"], rel=1e-4)
    for b in out["blocks"]:
        assert b["drop"] == pytest.approx(out["baseline"]["accuracy"] - b["accuracy"])
    assert out["mean_drop"] == pytest.approx(np.mean([b["drop"] for b in out["blocks"]]))
    assert [p["k"] for p in out["k_curve"]] == [1, 2, 3]


def test_lesion_cli_names_a_folder_without_a_run(tmp_path, capsys):
    assert main(["lesion", str(tmp_path), "--json"]) == 2
    err = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert str(tmp_path) in err and "run.json" in err


@pytest.mark.slow
def test_landscape_cli_json_line(sigmoid_run, capsys):
    code = main(["landscape", str(sigmoid_run), "--grid", "3", "--samples", "32",
                 "--hessian-samples", "16", "--iterations", "5", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"run_dir", "grid", "span", "center_loss", "radius_loss_rise", "lambda_max",
            "lambda_min", "eigen_ratio", "file", "seconds"} <= set(out)
    assert out["grid"] == 3 and out["span"] == 1.0
    assert out["eigen_ratio"] == pytest.approx(abs(out["lambda_min"] / out["lambda_max"]))
    assert (sigmoid_run / "geometry").is_dir() and out["file"].endswith(".npz")


@pytest.mark.slow
def test_landscape_cli_eigen_map_reuses_the_cached_surface(sigmoid_run, capsys):
    """--eigen-grid adds the map to the JSON line (the solution's keys unchanged); a study of
    the same plane cached without a map is reused, only the map is computed; the map's
    centre, with the solution's Hessian settings, is the solution's ratio."""
    base = ["landscape", str(sigmoid_run), "--grid", "3", "--samples", "32", "--seed", "5",
            "--hessian-samples", "16", "--iterations", "12", "--json"]
    assert main(base) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["eigen_map"] is None and first["eigen_grid"] == 0
    assert main([*base, "--eigen-grid", "3", "--eigen-iterations", "12",
                 "--eigen-samples", "16"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["file"] != first["file"] and not out["cached"]
    for key in ("center_loss", "radius_loss_rise", "lambda_max", "lambda_min", "eigen_ratio"):
        assert out[key] == first[key]
    ratio = np.asarray(out["eigen_map"])
    assert ratio.shape == (3, 3) and out["eigen_axis"] == [-1.0, 0.0, 1.0]
    assert out["eigen_ratio_mean"] == pytest.approx(ratio.mean())
    assert out["eigen_ratio_max"] == pytest.approx(ratio.max())
    assert ratio[1, 1] == pytest.approx(first["eigen_ratio"], rel=1e-6)
    assert main([*base, "--eigen-grid", "3", "--eigen-iterations", "12",
                 "--eigen-samples", "16"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["cached"] and again["eigen_map"] == out["eigen_map"]
    assert main([*base, "--eigen-grid", "4"]) == 2


def test_landscape_cli_refuses_an_even_grid(tmp_path, capsys):
    assert main(["landscape", str(tmp_path), "--grid", "4", "--json"]) == 2
    err = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert "--grid" in err
