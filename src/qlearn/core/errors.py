"""The one error type users see: a bad input, explained in one line with its fix."""


class QlearnError(ValueError):
    """Raised for invalid user input; the message says what is wrong and how to fix it.

    The CLI prints it as one line and exits with status 2; Python callers can catch it
    as a plain ``ValueError``.
    """


class QlearnWarning(UserWarning):
    """An option that does nothing here (``slip`` on a world without ice): the work goes
    on. The CLI prints it as one line on stderr, ``warning: ...``; Python callers see an
    ordinary warning."""


class Interrupted(Exception):
    """Training stopped on Ctrl-C after saving a checkpoint it can be resumed from."""

    def __init__(self, run_dir: object, done: int, unit: str = "episodes"):
        super().__init__(
            f"interrupted after {done:,} {unit}; checkpoint saved. "
            f"Resume with: qlearn train --resume {run_dir}"
        )
        self.run_dir = run_dir
        self.episodes_done = done


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def yaml_problem(exc: Exception) -> str:
    """A YAML parser error as one line with its line number: "<problem> (line N)"."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or first_line(exc)
    return f"{problem} (line {mark.line + 1})" if mark is not None else problem
