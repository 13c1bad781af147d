"""`resnet-studio export`: a run's model as a SavedModel, .keras, TFLite or Python file,
verified on a test batch; TFLite exports (optionally quantized) are measured by
core/compress/quantize.py.
"""

from __future__ import annotations

import argparse
from typing import Any

from resnet_studio.cli.common import UsageError, emit_json
from resnet_studio.cli.train_commands import _read_checkpointed_run_or_usage
from resnet_studio.core.exitcodes import EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export a run's model")
    p.add_argument("run_dir")
    p.add_argument("--format", required=True, choices=("savedmodel", "keras", "tflite", "python"))
    p.add_argument("--out", required=True, help="output path")
    p.add_argument("--quantize", nargs="?", const="dynamic", choices=("int8", "float16", "dynamic"),
                   help="TFLite: int8 (full integer, calibrated on training inputs), float16, "
                        "or dynamic (int8 weights; the default when no mode is given). TFLite "
                        "exports report size, test accuracy and latency (docs/compression.md)")
    p.add_argument("--per-tensor", action="store_true", dest="per_tensor",
                   help="with --quantize int8: one scale per weight tensor instead of per "
                        "channel (a smaller file; check the reported accuracy)")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from resnet_studio.core.export import ExportError
    from resnet_studio.core.training.restore import export_run

    info = _read_checkpointed_run_or_usage(args.run_dir)
    if args.per_tensor and args.quantize != "int8":
        raise UsageError("--per-tensor applies to --quantize int8 only")
    if args.quantize and args.format != "tflite":
        raise UsageError(f"--quantize applies to --format tflite only, not {args.format}")
    if args.format == "tflite":  # measured on the test split by the TFLite interpreter
        return export_tflite(info, args)
    try:
        result = export_run(info, args.format, args.out, overwrite=args.force)
    except ExportError as e:
        if e.target_exists:
            raise UsageError(f"{args.out} exists; pass --force to replace it") from None
        raise UsageError(str(e)) from None
    if args.json:
        emit_json(result.to_dict())
    else:
        diff = "" if result.max_abs_diff is None else f", max abs diff {result.max_abs_diff:.2e}"
        print(f"exported {result.format} to {result.path} ({result.bytes:,} bytes; verified"
              f"{diff})")
    return EXIT_OK


def export_tflite(info: Any, args: argparse.Namespace) -> int:
    """`export --format tflite [--quantize MODE]`: writes, verifies and measures the file."""
    from resnet_studio.core.compress.quantize import QuantizationError, export_tflite_run
    from resnet_studio.core.export import ExportError

    try:
        mode = "int8-per-tensor" if args.per_tensor else args.quantize
        result = export_tflite_run(info, args.out, mode, overwrite=args.force)
    except (ExportError, QuantizationError) as e:
        raise UsageError(str(e)) from None
    if args.json:
        emit_json(result)
        return EXIT_OK
    diff = result["max_abs_diff"]
    print(f"exported tflite ({result['quantization']}) to {result['path']}: "
          f"{result['size_bytes']:,} bytes ({result['size_bytes'] / result['float32_size_bytes']:.0%}"
          f" of float32's {result['float32_size_bytes']:,}); verified, max |Δ| {diff:.2e}")
    print(f"test accuracy {result['accuracy']:.4f} (Keras model {result['reference_accuracy']:.4f}"
          f", {result['test_examples']} examples); latency {result['latency_ms']:.3f} ms "
          "(one example, one thread, median)")
    return EXIT_OK
