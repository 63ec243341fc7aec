"""lifecycle stale"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lifecycle.cleanup import parse_iso
from lifecycle.commands.options import insecure_option, output_option, repo_option, reporter
from lifecycle.matrix import DEFAULT_MAX_LEGS, MatrixPlan, as_azure_matrix, plan_matrix
from lifecycle.output import short_digest
from lifecycle.source import WorkTree
from lifecycle.registries import RegistryPool
from lifecycle.stale import CHANNELS, find_stale
from lifecycle.workspace import Workspace


@click.command()
@repo_option
@output_option
@insecure_option
@click.option("--channel", type=click.Choice(CHANNELS), required=True, help="Which floating tag to check.")
@click.option("--matrix", "want_matrix", is_flag=True,
              help="Also emit the rebuild matrix (stale images and their descendants).")
@click.option("--max-legs", type=click.IntRange(1, 256), default=DEFAULT_MAX_LEGS, show_default=True)
@click.option("--now", "now_text", metavar="ISO", help="Evaluate ages at this time (default: now, UTC).")
def stale(repo: Path, output: str, insecure: tuple[str, ...], channel: str, want_matrix: bool, max_legs: int,
          now_text: str | None) -> None:
    """Out-of-date images on a channel, with reasons; optionally the matrix to rebuild them."""
    out = reporter(output)
    ws = Workspace.load(WorkTree(repo))
    with RegistryPool(tuple(insecure)) as pool:
        report = find_stale(ws, channel, pool, parse_iso(now_text, "--now"))
    plan = plan_matrix(ws, report.rebuild, max_legs) if want_matrix and report.rebuild else MatrixPlan("chain", ())
    legs = list(plan.legs)
    matrix = as_azure_matrix(legs)
    if want_matrix:  # the same output variables as `lifecycle matrix` (level0.. for the level jobs)
        for name, value in plan.variables().items():
            out.set_variable(name, value)
    out.set_variable("staleCount", str(len(report.stale)))
    if output == "json":
        data = report.to_dict()
        if want_matrix:
            data["matrix"] = matrix
        out.write(json.dumps(data, indent=2) + "\n")
        return
    rows = [{"image": e.tagbase, "status": e.status, "digest": short_digest(e.digest),
             "built": (e.created or "")[:10], "reasons": "; ".join(e.reasons)} for e in report.entries]
    out.table(rows, title=f"Images on {channel}: {len(report.stale)} stale, {len(report.rebuild)} to rebuild")
    if want_matrix:
        out.table([{"leg": leg.name, "platform": leg.platform, "images": list(leg.images)} for leg in legs],
                  title=f"Rebuild matrix ({len(legs)} legs)")
