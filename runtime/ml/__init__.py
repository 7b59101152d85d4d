"""The machine-learning force field: descriptor + Behler–Parrinello network, training, evaluation, symmetry error."""
