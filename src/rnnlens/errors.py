"""The one exception type whose message is shown to the user as is."""

from __future__ import annotations


def typed(value) -> str:
    """A value as a user types it on the command line, for messages: ``0.002``, ``5``, ``128 256``."""
    if isinstance(value, (list, tuple)):
        return " ".join(typed(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class RnnlensError(Exception):
    """A problem the user can fix: the message says what is wrong and what to do.

    ``advice`` with ``option`` names the library parameter that fixes it
    ("drop them", ``skip_unknown``): ``str()`` says ``with skip_unknown=...``,
    and the command line says the flag instead, or leaves the advice out
    where the command has no such flag. The command line prints the error as
    one line and exits with status 1; any other exception is a bug and shows
    a traceback only with ``--debug``.
    """

    def __init__(self, message: str, advice: str | None = None, option: str | None = None) -> None:
        super().__init__(message)
        self.message, self.advice, self.option = message, advice, option

    def render(self, flags: dict[str, str] | None = None) -> str:
        """The message with its advice; ``flags`` maps parameters to a command's flags (None: the library's words)."""
        if self.advice is None:
            return self.message
        if self.option is None:
            return f"{self.message}; {self.advice}"
        if flags is None:
            return f"{self.message}; {self.advice} with {self.option}"
        return f"{self.message}; {self.advice} with {flags[self.option]}" if self.option in flags else self.message

    def __str__(self) -> str:
        return self.render()
