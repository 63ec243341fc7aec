"""lifecycle matrix"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lifecycle.commands.options import output_option, repo_option, reporter
from lifecycle.commands.plan import compute_plan
from lifecycle.build.matrix import DEFAULT_MAX_LEGS, MODES, MatrixPlan, as_azure_matrix, plan_matrix
from lifecycle.output import Reporter
from lifecycle.catalogue.planning import Plan
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace


@click.command()
@repo_option
@output_option
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), help="A plan written by `plan --out`.")
@click.option("--since", metavar="REF")
@click.option("--all", "all_images", is_flag=True)
@click.option("--images", metavar="T1,T2")
@click.option("--max-legs", type=click.IntRange(1, 256), default=DEFAULT_MAX_LEGS, show_default=True,
              help="Hard upper bound on the legs of each level.")
@click.option("--mode", type=click.Choice(MODES), default="auto", show_default=True,
              help="chain: one level, whole chains per leg; levels: one level per dependency depth; "
                   "auto: the one with the shorter estimated critical path.")
def matrix(repo: Path, output: str, plan_file: Path | None, since: str | None, all_images: bool,
           images: str | None, max_legs: int, mode: str) -> None:
    """An Azure Pipelines matrix: legs by dependency chain or by dependency level, per agent pool."""
    out = reporter(output)
    ws = Workspace.load(WorkTree(repo))
    chosen = Plan.from_file(plan_file) if plan_file else compute_plan(repo, since, all_images, images)
    show(out, output, plan_matrix(ws, chosen.tagbases, max_legs, mode))


def show(out: Reporter, output: str, result: MatrixPlan, title: str = "Matrix") -> None:
    """Set the pipeline's output variables and print the legs (shared with `stale --matrix`)."""
    for name, value in result.variables().items():
        out.set_variable(name, value)
    rows = [{"leg": leg.name, "level": leg.level, "pool": leg.pool, "platform": leg.platform,
             "images": list(leg.images)} for leg in result.legs]
    heading = (f"{title} ({len(result.legs)} legs, {result.mode}, {result.level_count} levels, "
               f"critical path {result.critical_path() if result.legs else 0} images)")
    if output == "table":
        out.table(rows, title=heading)
    elif output == "markdown":
        out.table(rows)
    else:
        out.write(json.dumps(as_azure_matrix(list(result.legs)), indent=2) + "\n")
