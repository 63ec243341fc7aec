"""Rendering results for people and machines, and Azure Pipelines logging commands.

Commands build rows (lists of dicts) and hand them here; nothing else prints tables.
Under Azure Pipelines (TF_BUILD set) warnings and errors become logging commands.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

FORMATS = ("table", "json", "markdown")


def in_pipeline() -> bool:
    return bool(os.environ.get("TF_BUILD"))


def logging_data(message: str) -> str:
    """A message as the data of one logging command: the agent reads one line, so line breaks (and the
    percent sign that starts an escape) are escaped the way the agent unescapes them."""
    return message.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def short_digest(digest: str | None, length: int = 12) -> str:
    """sha256:abcdef... -> sha256:abcdef123456 (what people can read in a table)."""
    if not digest:
        return ""
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:length]}" if hexpart else digest[:length]


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "_none_\n"
    columns = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines) + "\n"


def plain_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(none)\n"
    columns = list(columns or rows[0].keys())
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    out = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(out) + "\n"


@dataclass
class Reporter:
    """Where a command's results and messages go. One per CLI invocation, passed down explicitly."""

    format: str = "table"
    stream: Any = field(default_factory=lambda: sys.stdout)
    err: Any = field(default_factory=lambda: sys.stderr)
    secrets: list[str] = field(default_factory=list)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def add_secret(self, secret: str | None) -> None:
        """Mask `secret` in everything printed from now on; in Azure Pipelines also tell the agent (once)."""
        if secret and secret not in self.secrets:
            self.secrets.append(secret)
            self.secrets.sort(key=len, reverse=True)  # a longer secret first: no readable tail of it is left
            if in_pipeline():
                self.err.write(f"##vso[task.setsecret]{logging_data(secret)}\n")
                self.err.flush()

    def write(self, text: str) -> None:
        self.stream.write(self.mask(text))
        self.stream.flush()

    def info(self, message: str) -> None:
        self.err.write(self.mask(message) + "\n")
        self.err.flush()

    def warning(self, message: str) -> None:
        self._issue("warning", message)

    def error(self, message: str) -> None:
        self._issue("error", message)

    def _issue(self, severity: str, message: str) -> None:
        if in_pipeline():
            self.info(f"##vso[task.logissue type={severity}]{logging_data(self.mask(message))}")
        else:
            self.info(f"{severity}: {message}")

    def problems(self, items: Iterable[tuple[str, str]]) -> None:
        """(severity, message) pairs that the command's table or JSON document also lists. Each is printed
        once per output mode: as a logging command (the run's issue list) in Azure Pipelines with table
        output; not at all elsewhere, where the table, the JSON or the markdown document says it."""
        if self.format != "table" or not in_pipeline():
            return
        for severity, message in items:
            self._issue("warning" if severity == "warning" else "error", message)

    def set_variable(self, name: str, value: str, output: bool = True) -> None:
        if in_pipeline():
            flag = ";isOutput=true" if output else ""
            self.write(f"##vso[task.setvariable variable={name}{flag}]{value}\n")

    def upload_summary(self, path: str) -> None:
        if in_pipeline():
            self.write(f"##vso[task.uploadsummary]{os.path.abspath(path)}\n")

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        if in_pipeline():
            self.info(f"##[group]{title}")
            try:
                yield
            finally:
                self.info("##[endgroup]")
        else:
            self.info(f"== {title}")
            yield

    def table(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None,
              title: str | None = None, data: Any = None) -> None:
        """Print rows in the chosen format. `data` overrides what JSON prints (defaults to rows)."""
        if self.format == "json":
            self.write(json.dumps(data if data is not None else list(rows), indent=2, default=str) + "\n")
            return
        if self.format == "markdown":
            if title:
                self.write(f"### {title}\n\n")
            self.write(markdown_table(rows, columns))
            return
        if title:
            self.write(f"{title}\n")
        self.write(plain_table(rows, columns))

    def progress(self, items: Iterable[Any], description: str) -> Iterable[Any]:
        """A progress bar on a terminal only; plain iteration in pipelines and pipes."""
        if self.err.isatty() and not in_pipeline():
            from rich.progress import track

            return track(items, description=description, transient=True)
        return items
