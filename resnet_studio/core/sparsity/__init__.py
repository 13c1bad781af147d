"""Sparse weights: which weights pruning removes (`masks`) and how a training run keeps them
at zero (`hold`, the Keras callback the Trainer adds for a run with a `pruning` section).

Below both `training` and `compress`: the Trainer holds a pruned run's masks through every
step (a fresh fine-tune or a resumed one), and the pruning study (`compress/`) computes them.
"""
