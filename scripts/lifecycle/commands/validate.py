"""lifecycle validate"""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.commands.options import output_option, repo_option, reporter
from lifecycle.errors import InputError
from lifecycle.output import in_pipeline
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.validation import validate as run_validate


@click.command()
@repo_option
@output_option
@click.option("--pipelines/--no-pipelines", default=True, help="Also check the pipeline YAML files.")
def validate(repo: Path, output: str, pipelines: bool) -> None:
    """Check the catalogue, policy, Dockerfiles, bases, graph and pipelines. Exit 2 on any error."""
    out = reporter(output)
    ws = run_validate(WorkTree(repo), pipelines_root=repo if pipelines else None, consumers_root=repo)
    rows = [{"severity": p.severity, "where": str(p.location), "problem": p.message} for p in ws.problems]
    # Each problem once: the table on a terminal, logging commands in Azure Pipelines, the JSON document.
    out.problems((p.severity, f"{p.location}: {p.message}") for p in ws.problems)
    if output != "table" or (rows and not in_pipeline()):
        out.table(rows, ["severity", "where", "problem"], title="Validation")
    if ws.waivers and output != "json":  # JSON keeps its one document: the problem list
        waivers = [{"base": w.waiver.base, "images": ", ".join(w.waiver.images), "expires": str(w.waiver.expires),
                    "daysLeft": w.days_left, "reason": w.waiver.reason} for w in ws.waivers]
        out.table(waivers, ["base", "images", "expires", "daysLeft", "reason"],
                  title=f"Waivers ({len(waivers)}): approve or replace each base before it expires")
    if ws.catalog.excluded and output != "json":
        out.table([{"dockerfile": e.dockerfile, "reason": e.reason} for e in ws.catalog.excluded],
                  ["dockerfile", "reason"], title=f"Excluded Dockerfiles ({len(ws.catalog.excluded)}): not built")
    errors = ws.errors
    if errors:
        raise InputError(f"validation failed: {len(errors)} error(s)")
    out.info(f"ok: {len(ws.catalog.images)} images, {len(ws.problems)} warning(s)")
