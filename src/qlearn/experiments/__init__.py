"""Experiments over many runs: comparisons of learners, sweeps of configurations (locally
or on Ray), greedy evaluation and redrawing of saved runs."""
