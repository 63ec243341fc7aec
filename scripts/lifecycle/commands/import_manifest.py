"""lifecycle import-manifest"""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.commands.options import dry_run_option, output_option, reporter
from lifecycle.catalogue.upstream import import_manifest as run_import


@click.command("import-manifest")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path),
              help="Root of the GitOps repository to write (default: the manifest's folder).")
@click.option("--registry", metavar="HOST", help="Registry of the catalogue (default: the manifest's registry).")
@click.option("--repository", metavar="NAME", help="Upstream repo to import, and our repository name.")
@click.option("--policy-base", "policy_bases", multiple=True, metavar="PATTERN",
              help="Approved base pattern (repeatable); default: the existing policy's list. Other bases "
                   "become waivers.")
@click.option("--alias", "aliases", multiple=True, metavar="REGISTRY/REPO",
              help="Another name of our repository (e.g. the public mirror); repeatable. The manifest's own "
                   "registry/repository is one when it differs from --registry.")
@click.option("--waiver-days", type=click.IntRange(1, 3650), default=90, show_default=True,
              help="How long a waiver for a base outside the approved list lasts.")
@click.option("--waiver-reason", metavar="TEXT", help="Reason / tracking link written on each new waiver.")
@click.option("--update", is_flag=True,
              help="Sync an existing catalogue at the destination: apply upstream's additions, removals and "
                   "changes as a minimal diff, keeping what was added here.")
@output_option
@dry_run_option
def import_manifest(manifest: Path, dest: Path | None, registry: str | None, repository: str | None,
                    policy_bases: tuple[str, ...], aliases: tuple[str, ...], waiver_days: int,
                    waiver_reason: str | None, update: bool, output: str, dry_run: bool) -> None:
    """Write manifests/images.yml from an ImageBuilder manifest.json; report what could not be mapped."""
    out = reporter(output)
    result, plan = run_import(manifest, dest, registry=registry, repository=repository,
                              policy_bases=list(policy_bases), aliases=list(aliases), waiver_days=waiver_days,
                              waiver_reason=waiver_reason, dry_run=dry_run, update=update)
    rows = [{"kind": f.kind, "where": f.where, "what": f.what} for f in result.findings]
    data = {"registry": result.registry, "repository": result.repository,
            "images": [result.name_of(e) for e in result.images], "files": sorted(plan.files),
            "aliases": result.aliases, "sharedTags": result.shared,
            "waivers": {b: u for b, u in result.base_users.items()},
            "copied": plan.copies, "excluded": result.excluded, "findings": rows,
            **({"changes": [{"change": c.change, "image": c.name, "what": c.what} for c in plan.changes]}
               if update else {}), "dryRun": dry_run}
    out.table(rows, ["kind", "where", "what"],
              title=f"Import report ({len(result.unmapped)} not mapped, "
                    f"{sum(f.kind == 'orphan' for f in result.findings)} Dockerfiles not in the manifest)",
              data=data)
    if update and output != "json":
        out.table([{"change": c.change, "image": c.name, "what": c.what} for c in plan.changes],
                  ["change", "image", "what"], title=f"Upstream changes ({len(plan.changes)})")
    target = dest or manifest.parent
    verb = "would write" if dry_run else "wrote"
    out.info(f"{verb} {', '.join(sorted(plan.files))} in {target}: {len(result.images)} images"
             + (f", {len(plan.copies)} Dockerfile folders copied" if plan.copies else ""))
    if dry_run and output == "table":
        out.write(plan.files["manifests/images.yml"])
