"""Figures: pictures of runs and sweeps, drawn with matplotlib (no global pyplot state)."""
