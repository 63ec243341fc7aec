"""lifecycle plan"""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.commands.options import output_option, repo_option, reporter
from lifecycle.errors import InputError
from lifecycle.output import short_digest
from lifecycle.catalogue.planning import Plan, plan_all, plan_images, plan_since
from lifecycle.catalogue.source import CommitTree, WorkTree
from lifecycle.catalogue.workspace import Workspace


def compute_plan(repo: Path, since: str | None, all_images: bool, images: str | None = None) -> Plan:
    ws = Workspace.load(WorkTree(repo))
    if all_images:
        return plan_all(ws)
    if images:
        return plan_images(ws, [t.strip() for t in images.split(",") if t.strip()])
    if since:
        try:
            before = Workspace.load(CommitTree(repo, since), strict=False)
        except InputError as exc:
            if "is not a commit" in str(exc):
                raise
            before = None  # the catalogue did not exist or did not load there: everything is new
        return plan_since(ws, before, since)
    raise click.UsageError("choose --since REF, --all or --images")


@click.command()
@repo_option
@output_option
@click.option("--since", metavar="REF", help="Plan images whose definition differs from REF.")
@click.option("--all", "all_images", is_flag=True, help="Plan every image.")
@click.option("--images", metavar="T1,T2", help="Plan these tag bases and their descendants.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the plan as JSON.")
def plan(repo: Path, output: str, since: str | None, all_images: bool, images: str | None,
         out_file: Path | None) -> None:
    """The images to build, in dependency order."""
    out = reporter(output)
    result = compute_plan(repo, since, all_images, images)
    if out_file:
        out_file.write_text(result.to_json(), encoding="utf-8")
    if output == "json":
        out.write(result.to_json())
        return
    rows = [{"image": e.tagbase, "reason": e.reason, "definition": short_digest(e.definition),
             "parents": list(e.parents), "platform": e.platform} for e in result.images]
    out.table(rows, title=f"Plan ({len(rows)} images)" + (f" since {since}" if since else ""))
