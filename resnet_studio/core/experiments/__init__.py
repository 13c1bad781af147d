"""Experiments: several arms from one shared start, over seeds (see schema.py and runner.py)."""
