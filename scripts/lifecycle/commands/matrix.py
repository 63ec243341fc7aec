"""lifecycle matrix"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lifecycle.commands.options import output_option, repo_option, reporter
from lifecycle.commands.plan import compute_plan
from lifecycle.matrix import DEFAULT_MAX_LEGS, as_azure_matrix, build_matrix
from lifecycle.planning import Plan
from lifecycle.source import WorkTree
from lifecycle.workspace import Workspace


@click.command()
@repo_option
@output_option
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), help="A plan written by `plan --out`.")
@click.option("--since", metavar="REF")
@click.option("--all", "all_images", is_flag=True)
@click.option("--images", metavar="T1,T2")
@click.option("--max-legs", type=click.IntRange(1, 256), default=DEFAULT_MAX_LEGS, show_default=True)
def matrix(repo: Path, output: str, plan_file: Path | None, since: str | None, all_images: bool,
           images: str | None, max_legs: int) -> None:
    """An Azure Pipelines matrix: one leg per dependency chain per platform."""
    out = reporter(output)
    ws = Workspace.load(WorkTree(repo))
    chosen = Plan.from_file(plan_file) if plan_file else compute_plan(repo, since, all_images, images)
    legs = build_matrix(ws, chosen.tagbases, max_legs)
    data = as_azure_matrix(legs)
    compact = json.dumps(data, separators=(",", ":"))
    out.set_variable("matrix", compact)
    out.set_variable("legCount", str(len(legs)))
    if output == "table":
        out.table([{"leg": leg.name, "platform": leg.platform, "images": list(leg.images)} for leg in legs],
                  title=f"Matrix ({len(legs)} legs)")
    elif output == "markdown":
        out.table([{"leg": leg.name, "platform": leg.platform, "images": list(leg.images)} for leg in legs])
    else:
        out.write(json.dumps(data, indent=2) + "\n")
