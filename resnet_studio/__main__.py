"""`python -m resnet_studio`: the `resnet-studio` command."""

import sys

from resnet_studio.cli import main

if __name__ == "__main__":
    sys.exit(main())
