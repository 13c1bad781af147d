"""The Compress panel's views (opened from the Runs tab: right-click a run → Compress…):
the sparsity/accuracy and size curves, branch removal, quantization. The dialog that holds
them is gui/training/compress_dialog.py; the numbers come from core/compress."""
