"""The Qt-free engine: architecture specs, blocks, builder, data, training, export.

Nothing under this package imports PySide6 or pyqtgraph (tests/core/test_core_is_qt_free.py).
"""
