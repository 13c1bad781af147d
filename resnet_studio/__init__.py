"""ResNet Studio: build, train and understand residual networks block by block."""

__version__ = "0.1.0"
