"""`lesion` and `landscape`: the geometric studies of a trained run (core/geometry)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from resnet_studio.cli.common import UsageError, emit_json
from resnet_studio.core.exitcodes import EXIT_OK


def register(sub: Any) -> None:
    """Adds the `lesion` and `landscape` subcommands."""
    p = sub.add_parser(
        "lesion", help="delete residual units of a trained run at test time (Veit et al. 2016)",
        description="Test accuracy and loss with each residual unit's branch deleted (shortcut "
                    "kept), then with k random units deleted for k = 1..K. In a plain network "
                    "a unit is replaced by the identity where its shapes allow. The run's "
                    "weights are not changed.")
    p.add_argument("run_dir")
    p.add_argument("--draws", type=int, default=5, help="random sets per k (default 5)")
    p.add_argument("--max-k", type=int, dest="max_k", help="largest k (default: all units)")
    p.add_argument("--seed", type=int, default=0, help="seeds the random sets (default 0)")
    p.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    p.set_defaults(handler=cmd_lesion)

    p = sub.add_parser(
        "landscape", help="loss landscape and Hessian eigenvalues of a trained run "
                          "(Li et al. 2018)",
        description="Loss on 1-D and 2-D slices along filter-normalised random directions "
                    "around the trained weights, the line from the initial to the trained "
                    "weights, and the Hessian's largest and smallest eigenvalues. Cached in "
                    "the run folder (geometry/).")
    p.add_argument("run_dir")
    p.add_argument("--grid", type=int, default=21, help="points per axis (default 21)")
    p.add_argument("--span", type=float, default=1.0,
                   help="the slices cover [-S, S] in filter-normalised units (default 1)")
    p.add_argument("--samples", type=int, default=1024,
                   help="training examples the loss is computed on (default 1024)")
    p.add_argument("--seed", type=int, default=0, help="seeds directions and the subset")
    p.add_argument("--no-hessian", action="store_true", dest="no_hessian",
                   help="skip the eigenvalues")
    p.add_argument("--hessian-samples", type=int, dest="hessian_samples",
                   help="examples of the subset the Hessian uses (default min(samples, 512))")
    p.add_argument("--iterations", type=int, default=200,
                   help="Lanczos steps (Hessian-vector products, float64) at most "
                        "(default 200)")
    p.add_argument("--eigen-grid", type=int, default=0, dest="eigen_grid",
                   help="also map |λ_min/λ_max| on an N × N grid (odd) of the same plane, as "
                        "Li et al. 2018 do (default 0: at the trained point only)")
    p.add_argument("--eigen-iterations", type=int, default=30, dest="eigen_iterations",
                   help="Lanczos steps at most at each point of the map (default 30)")
    p.add_argument("--eigen-samples", type=int, dest="eigen_samples",
                   help="examples for the map's Hessians (default min(hessian samples, 128))")
    p.add_argument("--force", action="store_true", help="recompute even if cached")
    p.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    p.set_defaults(handler=cmd_landscape)


class ProgressLine:
    """A progress line on stderr: redrawn in place on a terminal (at most 5 times a
    second), else one line per tenth."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0
        self._tenth = -1

    def __call__(self, done: int, total: int, what: str) -> None:
        frac = done / total if total else 1.0
        if self.tty:
            now = time.monotonic()
            if now - self._last < 0.2 and done < total:
                return
            self._last = now
            bar = "#" * int(frac * 24)
            self.stream.write(f"\r{self.label} [{bar:<24}] {done}/{total} {what[:40]:<40}")
            if done >= total:
                self.stream.write("\n")
        else:
            tenth = int(frac * 10)
            if tenth == self._tenth:
                return
            self._tenth = tenth
            self.stream.write(f"{self.label}: {done}/{total} ({what})\n")
        self.stream.flush()


def _positive(name: str, value: int | float | None, minimum: float = 1) -> None:
    if value is not None and value < minimum:
        raise UsageError(f"{name} must be at least {minimum:g}, got {value}")


def cmd_lesion(args: argparse.Namespace) -> int:
    from resnet_studio.core.geometry.lesion import lesion_study

    _positive("--draws", args.draws)
    _positive("--max-k", args.max_k)
    return _report(args, lambda: lesion_study(args.run_dir, draws=args.draws,
                                              max_k=args.max_k, seed=args.seed,
                                              progress=ProgressLine("lesion")), format_lesion)


def _report(args: argparse.Namespace, study: Any, text: Any) -> int:
    """Runs `study()`; prints its JSON line (--json) or `text(result)`. A run that cannot be
    studied is a usage error (exit 2) naming the folder."""
    from resnet_studio.core.geometry.runmodel import GeometryError

    try:
        result = study()
    except GeometryError as e:
        raise UsageError(str(e)) from None
    if args.json:
        emit_json(result.to_json())
    else:
        print(text(result))
    return EXIT_OK


def format_lesion(result: Any) -> str:
    """The lesion table: one line per unit, then the k-curve."""
    base = result.baseline
    kind = "residual" if result.residual else "plain"
    lines = [f"{result.run_dir} ({kind}; {result.examples} test examples)",
             f"baseline: accuracy {base['accuracy']:.4f}  loss {base['loss']:.4f}", "",
             f"{'unit deleted':<24} {'accuracy':>9} {'drop':>8} {'loss':>9}"]
    for b in result.blocks:
        lines.append(f"{b.block:<24} {b.accuracy:>9.4f} {b.drop:>+8.4f} {b.loss:>9.4f}")
    if result.skipped:
        lines.append("skipped (changes the shape, no identity to put in its place): "
                     + ", ".join(result.skipped))
    if result.mean_drop is not None:
        lines.append(f"mean drop from deleting one unit: {result.mean_drop:+.4f}")
    lines += ["", f"{'k deleted':>9} {'accuracy mean':>14} {'sd':>8}"]
    for p in result.k_curve:
        lines.append(f"{p.k:>9} {p.mean:>14.4f} {p.sd:>8.4f}")
    return "\n".join(lines)


def cmd_landscape(args: argparse.Namespace) -> int:
    from resnet_studio.core.geometry.landscape import LandscapeSettings, landscape_study

    _positive("--grid", args.grid, 3)
    _positive("--samples", args.samples)
    if not args.span > 0:
        raise UsageError(f"--span must be positive, got {args.span}")
    _positive("--hessian-samples", args.hessian_samples)
    _positive("--iterations", args.iterations, 2)
    if args.grid % 2 == 0:
        raise UsageError(f"--grid must be odd (the trained point is the centre), got "
                         f"{args.grid}")
    if args.eigen_grid and (args.eigen_grid < 3 or args.eigen_grid % 2 == 0):
        raise UsageError(f"--eigen-grid must be 0 or an odd number >= 3 (the trained point "
                         f"is the centre), got {args.eigen_grid}")
    _positive("--eigen-iterations", args.eigen_iterations, 2)
    _positive("--eigen-samples", args.eigen_samples)
    settings = LandscapeSettings(grid=args.grid, span=args.span, samples=args.samples,
                                 seed=args.seed, hessian=not args.no_hessian,
                                 hessian_samples=args.hessian_samples,
                                 iterations=args.iterations, eigen_grid=args.eigen_grid,
                                 eigen_iterations=args.eigen_iterations,
                                 eigen_samples=args.eigen_samples)
    return _report(args, lambda: landscape_study(args.run_dir, settings,
                                                 progress=ProgressLine("landscape"),
                                                 use_cache=not args.force), format_landscape)


def format_landscape(result: Any) -> str:
    """The headline numbers of a landscape study."""
    s = result.settings
    lines = [f"{result.run_dir} ({s.grid}×{s.grid} grid, span ±{s.span:g}, "
             f"{result.examples} training examples)",
             f"loss at the trained weights:          {result.center_loss:.4f}",
             f"mean loss rise at radius {result.radius:g}:       {result.radius_loss_rise:+.4f}"]
    if result.lambda_max is not None:
        lines += [f"Hessian λ_max: {result.lambda_max:.5g}   λ_min: {result.lambda_min:.5g}   "
                  f"|λ_min/λ_max|: {result.eigen_ratio:.4g}"]
        if result.lambda_min_error is not None:
            resolved = "resolved" if result.lambda_min_resolved else "NOT resolved from 0"
            lines.append(f"resolution: λ_max ± {result.lambda_max_error:.2g}, λ_min ± "
                         f"{result.lambda_min_error:.2g} ({resolved}; λ_min <= "
                         f"{result.lambda_min:.3g} holds in any case)")
    m = result.eigen_map
    if m is not None:
        k = len(m.axis)
        lines.append(f"|λ_min/λ_max| over a {k}×{k} map of the plane ({m.samples} examples, "
                     f"≤ {m.iterations} Lanczos steps a point): mean {m.ratio_mean:.4g}, max "
                     f"{m.ratio_max:.4g}; negative curvature resolved at {m.negative_points} "
                     f"of {k * k} points")
        lines += ["  " + " ".join(f"{v:9.3g}" for v in row) for row in m.ratio]
    if result.line_loss is not None:
        lines.append(f"initial -> trained line: loss {result.line_loss[result.line_start]:.4f}"
                     f" at the start, {result.line_loss[result.line_end]:.4f} at the end, "
                     f"max {max(result.line_loss):.4f}")
    lines.append(f"{'cached' if result.cached else 'saved'}: {result.file}")
    return "\n".join(lines)
