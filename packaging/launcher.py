"""Entry point of the PyInstaller bundle (packaging/resnet-studio.spec): `resnet-studio`.

The same `resnet_studio.cli.main` as the console script, plus what a frozen program needs:
- multiprocessing.freeze_support(), so a child process started by a library (a data loader,
  TensorFlow's tooling) runs its task instead of a second copy of the app;
- `resnet-studio -c CODE [ARG ...]` runs CODE like `python -c`: the Python export verifies a
  written script in a fresh interpreter started as `sys.executable -c ...`
  (resnet_studio/core/export.py), and in the bundle sys.executable is this launcher;
- matplotlib (imported by the mnist1d package) on its non-interactive Agg backend, as the
  bundle carries no Tk.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _run_code(code: str, args: list[str]) -> int:
    sys.argv = ["-c", *args]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(code, "<string>", "exec"), namespace)  # noqa: S102 - `python -c`
    except SystemExit as e:  # as the interpreter does: None is 0, a message goes to stderr
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    return 0


def main() -> int:
    multiprocessing.freeze_support()
    if getattr(sys, "frozen", False):
        os.environ.setdefault("MPLBACKEND", "Agg")
        if len(sys.argv) >= 3 and sys.argv[1] == "-c":
            return _run_code(sys.argv[2], sys.argv[3:])
    from resnet_studio.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
