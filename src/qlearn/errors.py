"""The one error type users see: a bad input, explained in one line with its fix."""


class QlearnError(ValueError):
    """Raised for invalid user input; the message says what is wrong and how to fix it.

    The CLI prints it as one line and exits with status 2; Python callers can catch it
    as a plain ``ValueError``.
    """
