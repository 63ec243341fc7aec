"""docs/cli.md names every command and option the CLI has: the reference cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.cli import cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    found = []

    def walk(group: click.Group, path: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, f"{path} {name}")
            else:
                found.append((f"{path} {name}", command))

    walk(cli, "lifecycle")
    return found


def test_every_command_and_option_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    missing = []
    for path, command in commands():
        if f"`{path}" not in text:
            missing.append(path)
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                names = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
                if not any(n in text for n in names):
                    missing.append(f"{path} {'/'.join(names)}")
    assert not missing, f"not in docs/cli.md: {missing}"
    assert len(commands()) >= 20
