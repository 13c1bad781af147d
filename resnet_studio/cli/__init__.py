"""`resnet-studio` command line: the same core as the GUI, headless.

Exit codes: 0 success, 1 a failed run, 2 bad input (message on stderr, never a traceback).
With --json the last stdout line is one JSON object.
"""

from resnet_studio.cli.main import main

__all__ = ["main"]
