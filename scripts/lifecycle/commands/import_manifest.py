"""lifecycle import-manifest"""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.commands.options import dry_run_option, output_option, reporter
from lifecycle.upstream import import_manifest as run_import


@click.command("import-manifest")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path),
              help="Root of the GitOps repository to write (default: the manifest's folder).")
@click.option("--registry", metavar="HOST", help="Registry of the catalogue (default: the manifest's registry).")
@click.option("--repository", metavar="NAME", help="Upstream repo to import, and our repository name.")
@click.option("--policy-base", "policy_bases", multiple=True, metavar="PATTERN",
              help="Approved base pattern to add to manifests/policy.yml (repeatable).")
@output_option
@dry_run_option
def import_manifest(manifest: Path, dest: Path | None, registry: str | None, repository: str | None,
                    policy_bases: tuple[str, ...], output: str, dry_run: bool) -> None:
    """Write manifests/images.yml from an ImageBuilder manifest.json; report what could not be mapped."""
    out = reporter(output)
    result, plan = run_import(manifest, dest, registry=registry, repository=repository,
                              policy_bases=list(policy_bases), dry_run=dry_run)
    rows = [{"kind": f.kind, "where": f.where, "what": f.what} for f in result.findings]
    data = {"registry": result.registry, "repository": result.repository,
            "images": [e["tagBase"] for e in result.images], "files": sorted(plan.files),
            "copied": plan.copies, "findings": rows, "dryRun": dry_run}
    out.table(rows, ["kind", "where", "what"],
              title=f"Import report ({len(result.unmapped)} not mapped, {len(result.mismatches)} tag mismatches)",
              data=data)
    target = dest or manifest.parent
    verb = "would write" if dry_run else "wrote"
    out.info(f"{verb} {', '.join(sorted(plan.files))} in {target}: {len(result.images)} images"
             + (f", {len(plan.copies)} Dockerfile folders copied" if plan.copies else ""))
    if dry_run and output == "table":
        out.write(plan.files["manifests/images.yml"])
