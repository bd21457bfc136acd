"""The one error type users see: a bad input, explained in one line with its fix."""


class QlearnError(ValueError):
    """Raised for invalid user input; the message says what is wrong and how to fix it.

    The CLI prints it as one line and exits with status 2; Python callers can catch it
    as a plain ``ValueError``.
    """


class Interrupted(Exception):
    """Training stopped on Ctrl-C after saving a checkpoint it can be resumed from."""

    def __init__(self, run_dir: object, done: int, unit: str = "episodes"):
        super().__init__(
            f"interrupted after {done:,} {unit}; checkpoint saved. "
            f"Resume with: qlearn train --resume {run_dir}"
        )
        self.run_dir = run_dir
        self.episodes_done = done
