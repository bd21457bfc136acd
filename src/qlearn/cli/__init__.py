"""The qlearn command line: one thin function per command.

Errors in the user's input print one line on stderr and exit with status 2.
``--json`` prints exactly one JSON object on stdout and nothing else.

:mod:`~qlearn.cli.commands` parses and calls the library, :mod:`~qlearn.cli.show`
prints, :mod:`~qlearn.cli.progress` shows live progress on stderr, and
:mod:`~qlearn.cli.options` holds what the commands take.
"""

from qlearn.cli.commands import app, main

__all__ = ["app", "main"]
