"""The two kinds of failure the CLI distinguishes, and their exit codes.

InputError (exit 2): the user's input is wrong (a file, a line, a value); nothing was changed.
OperationError (exit 1): the input was fine but the work failed (registry, engine, git, tests).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Location:
    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class LifecycleError(Exception):
    exit_code = 1


class InputError(LifecycleError):
    """Bad input: names the place and what is wrong. Exit 2."""

    exit_code = 2

    def __init__(self, message: str, location: Location | None = None, problems: list[str] | None = None):
        self.location = location
        self.problems = problems or []
        text = f"{location}: {message}" if location else message
        if self.problems:
            text += "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


class OperationError(LifecycleError):
    """The work failed (registry, engine, git, a test). Exit 1."""

    exit_code = 1
