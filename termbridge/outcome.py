"""The one shape of what a command did for its caller: an exit code and at most one line for stderr.

Library calls never print or exit; they return an Outcome (or a subclass carrying what they
did: `sending.Sent`, `answers.Asked`, `delivery.Drained`, `submit.Submitted`,
`doctor.Report`), and the CLI, the hot path, rpc and MCP turn it into output the same way:
`report` writes the note as one `termbridge: …` line and gives the exit code. Errors that stop
a command before it did anything stay exceptions (errors.py), each with its exit code.
"""

from __future__ import annotations

from collections.abc import Callable


class Outcome:
    """Exit code 0 and no note, until `fail` or `tell` says otherwise."""

    __slots__ = ("exit_code", "note")

    def __init__(self, note: str | None = None) -> None:
        self.exit_code = 0
        self.note = note or None

    def fail(self, exit_code: int, note: str) -> None:
        """It did not do what was asked: EXIT_CODE (non-zero) and one line saying why."""
        self.exit_code, self.note = exit_code, note

    def tell(self, note: str) -> None:
        """It did what was asked, with one line worth saying (exit 0)."""
        self.note = note

    def report(self, err: Callable[[str], None]) -> int:
        """The note as one `termbridge: …` line on ERR; the exit code."""
        if self.note:
            err(f"termbridge: {self.note}")
        return self.exit_code
