"""Moved to core/training_config.py, so the spec and the run folder read training settings
without importing the training package (docs/architecture.md, "Layers"). This alias keeps
code written before the move working; new code imports resnet_studio.core.training_config.
"""

import sys

from resnet_studio.core import training_config

sys.modules[__name__] = training_config
