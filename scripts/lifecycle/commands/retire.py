"""lifecycle retire"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from lifecycle.cleanup.rules import load_usage
from lifecycle.cleanup.registry import load_manifests
from lifecycle.commands.options import dry_run_option, insecure_option, output_option, repo_option, reporter
from lifecycle.registry.pool import RegistryPool
from lifecycle.cleanup.retire import retire as retire_image


@click.command()
@repo_option
@output_option
@dry_run_option
@insecure_option
@click.argument("tagbase")
@click.option("--usage", "usage_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Usage file from `lifecycle consumers scan --usage-out`: lists who still uses the image.")
@click.option("--no-registry", is_flag=True,
              help="Git only: do not mark the image's published digests end of life in the registry.")
def retire(repo: Path, output: str, dry_run: bool, insecure: tuple[str, ...], tagbase: str,
           usage_file: Path | None, no_registry: bool) -> None:
    """Mark every published digest of an image end of life, then remove it from the catalogue and src/ in
    one commit; list its consumers."""
    out = reporter(output)
    usage = load_usage(usage_file) if usage_file else None
    if no_registry:
        result = retire_image(repo, tagbase, usage=usage, dry_run=dry_run)
    else:
        catalog, _ = load_manifests(repo)
        with RegistryPool(insecure) as pool:
            result = retire_image(repo, tagbase, usage=usage, dry_run=dry_run, client=pool.get(catalog.registry))
    if output == "json":
        out.write(json.dumps(asdict(result), indent=2) + "\n")
        return
    verb = "would remove" if dry_run else "removed"
    out.write(f"{tagbase}: {verb} the catalogue entry and {len(result.removed_files)} file(s) under "
              f"{result.folder}/" + (f" in commit {result.commit[:12]}" if result.commit else " (dry run)") + "\n")
    if result.end_of_life:
        out.table([{"digest": m["digest"], "tags": ", ".join(m["tags"]), "status": m["status"], "date": m["date"]}
                   for m in result.end_of_life], title=f"End of life marked in the registry for {tagbase}")
    elif not no_registry:
        out.info(f"{tagbase}: no published digest in the registry to mark end of life")
    if usage is not None:
        out.table(result.consumers, columns=["repository", "file", "line", "reference", "class"],
                  title=f"Consumers still using {tagbase}")
        if result.consumers:
            out.warning(f"{len(result.consumers)} consumer reference(s) still use {tagbase}; "
                        f"migrate them before its tags age out (lifecycle consumers migrate)")
    else:
        out.info("no --usage file given: consumers not checked (lifecycle consumers scan --usage-out FILE)")
