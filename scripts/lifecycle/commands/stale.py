"""lifecycle stale"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import click

from lifecycle.cleanup.rules import parse_iso
from lifecycle.errors import OperationError
from lifecycle.commands.options import insecure_option, output_option, repo_option, reporter
from lifecycle.build.matrix import DEFAULT_MAX_LEGS, MatrixPlan, as_azure_matrix, plan_matrix
from lifecycle.output import short_digest
from lifecycle.catalogue.source import WorkTree
from lifecycle.registry.pool import RegistryPool
from lifecycle.cleanup.stale import CHANNELS, find_stale
from lifecycle.catalogue.workspace import Workspace


@click.command()
@repo_option
@output_option
@insecure_option
@click.option("--channel", type=click.Choice(CHANNELS), required=True, help="Which floating tag to check.")
@click.option("--matrix", "want_matrix", is_flag=True,
              help="Also emit the rebuild matrix (stale images and their descendants).")
@click.option("--max-legs", type=click.IntRange(1, 256), default=DEFAULT_MAX_LEGS, show_default=True)
@click.option("--now", "now_text", metavar="ISO", help="Evaluate ages at this time (default: now, UTC).")
@click.option("--no-package-check", "no_package_check", is_flag=True,
              help="Skip the pending-updates check inside each image (a registry-only run, no engine needed).")
def stale(repo: Path, output: str, insecure: tuple[str, ...], channel: str, want_matrix: bool, max_legs: int,
          now_text: str | None, no_package_check: bool) -> None:
    """Out-of-date images on a channel, with reasons; optionally the matrix to rebuild them."""
    out = reporter(output)
    ws = Workspace.load(WorkTree(repo))
    now = parse_iso(now_text, "--now")
    with RegistryPool(tuple(insecure)) as pool, ExitStack() as stack:
        checker = None
        if not no_package_check:
            from lifecycle.build.engine import Engine  # only a package check needs the engine
            from lifecycle.packages import PackageChecker

            try:
                engine = stack.enter_context(Engine())
            except OperationError as e:
                raise OperationError(f"{e}\n  or pass --no-package-check for a registry-only run") from e
            checker = PackageChecker(engine)
        report = find_stale(ws, channel, pool, now, packages=checker)
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
             "built": (e.created or "")[:10], "reasons": "; ".join(e.reasons),
             **({"packages": str((e.packages or {}).get("note", ""))} if checker is not None else {})}
            for e in report.entries]
    out.table(rows, title=f"Images on {channel}: {len(report.stale)} stale, {len(report.rebuild)} to rebuild")
    if want_matrix:
        out.table([{"leg": leg.name, "platform": leg.platform, "images": list(leg.images)} for leg in legs],
                  title=f"Rebuild matrix ({len(legs)} legs)")
