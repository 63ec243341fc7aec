"""Options every verb spells the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from lifecycle.output import FORMATS, Reporter


def output_option(f: Callable) -> Callable:
    return click.option("--output", "-o", "output", type=click.Choice(FORMATS), default="table",
                        show_default=True, help="How results are printed.")(f)


def dry_run_option(f: Callable) -> Callable:
    return click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing.")(f)


def repo_option(f: Callable) -> Callable:
    return click.option("--repo", "repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                        show_default=True, help="Root of the GitOps repository (manifests/, src/).")(f)


def insecure_option(f: Callable) -> Callable:
    return click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST[:PORT]",
                        help="Allow plain HTTP to this registry (loopback hosts always may).")(f)


def reporter(output: str = "table") -> Reporter:
    return Reporter(format=output)
