"""Options every verb spells the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from lifecycle.masking import pipeline_secrets
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
    """The verb's reporter; in Azure Pipelines it masks every secret the CLI named at start (lifecycle.masking)."""
    return Reporter(format=output, secrets=pipeline_secrets())


def git_options(f: Callable) -> Callable:
    """--remote/--main/--production, shared by rollout, reconcile and rollback."""
    f = click.option("--production", default="production", show_default=True, help="The production branch.")(f)
    f = click.option("--main", "main_branch", default="main", show_default=True, help="The main branch.")(f)
    f = click.option("--remote", default="origin", show_default=True,
                     help="The git remote to fetch from and push to.")(f)
    return f


def journal_option(f: Callable) -> Callable:
    return click.option("--journal", "journal_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="Journal file (previous and new digest of every tag).")(f)


def production_options(f: Callable) -> Callable:
    """Everything rollout, reconcile and rollback share: repository, output, dry run, registry, git, journal."""
    for option in (journal_option, git_options, insecure_option, dry_run_option, output_option, repo_option):
        f = option(f)
    return f
