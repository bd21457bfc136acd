"""``python -m qlearn.cli``: the same as the ``qlearn`` command."""

from qlearn.cli import main

main()
