"""Process exit codes shared by the CLI and the desktop app (`resnet-studio gui`)."""

EXIT_OK = 0  # done
EXIT_FAILED = 1  # a run failed, or something went wrong that is not the user's input
EXIT_BAD_INPUT = 2  # the user's input is wrong (a preset, a flag, a data folder…)
