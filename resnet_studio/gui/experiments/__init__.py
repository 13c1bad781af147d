"""The Experiments tab: an arms editor, runs in the background, results table and figures."""
