"""Desktop editor (PySide6): a thin layer of views over the Qt-free core.

No module here imports TensorFlow or Keras at import time: the window appears first, and
only the background threads (tf_loader, summary_worker) import them.
"""
