"""lifecycle lkg"""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.commands.options import insecure_option, output_option, repo_option, reporter
from lifecycle.production.lkg import lkgs_for, resolver_for
from lifecycle.output import short_digest
from lifecycle.registry.pool import RegistryPool
from lifecycle.catalogue.source import CommitTree, WorkTree
from lifecycle.catalogue.workspace import Workspace


@click.command()
@repo_option
@output_option
@insecure_option
@click.option("--commit", "rev", metavar="REV", help="Definitions at this commit (default: the working tree).")
def lkg(repo: Path, output: str, insecure: tuple[str, ...], rev: str | None) -> None:
    """The last known good digest of every image's definition, or why it has none."""
    out = reporter(output)
    ws = Workspace.load(CommitTree(repo, rev) if rev else WorkTree(repo))
    with RegistryPool(insecure) as pool:
        found = lkgs_for(ws, resolver_for(ws, pool.get(ws.catalog.registry)))
    rows = [{"image": t, "digest": short_digest(found[t].digest), "tag": found[t].tag or "",
             "definition": short_digest(found[t].definition), "reason": found[t].reason or ""} for t in ws.order()]
    out.table(rows, title=f"Last known good at {ws.source.label}",
              data=[found[t].as_row() for t in ws.order()])
    missing = [t for t in ws.order() if not found[t].found]
    out.problems(("warning", f"{t}: no LKG: {found[t].reason}") for t in missing)
