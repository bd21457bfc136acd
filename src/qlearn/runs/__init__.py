"""Run folders: atomic files, the training job driver (start, checkpoint, Ctrl-C,
resume, finish), the results each kind of run writes, TensorBoard events and reports.

Above the algorithm cores and the pictures: the cores compute, :mod:`qlearn.viz` draws,
and this package is where either reaches the disk.
"""
