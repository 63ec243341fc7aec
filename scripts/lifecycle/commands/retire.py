"""lifecycle retire"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from lifecycle.cleanup.rules import load_usage
from lifecycle.commands.options import dry_run_option, output_option, repo_option, reporter
from lifecycle.cleanup.retire import retire as retire_image


@click.command()
@repo_option
@output_option
@dry_run_option
@click.argument("tagbase")
@click.option("--usage", "usage_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Usage file from `lifecycle consumers scan --usage-out`: lists who still uses the image.")
def retire(repo: Path, output: str, dry_run: bool, tagbase: str, usage_file: Path | None) -> None:
    """Remove an image from the catalogue and src/ in one commit; list its consumers."""
    out = reporter(output)
    usage = load_usage(usage_file) if usage_file else None
    result = retire_image(repo, tagbase, usage=usage, dry_run=dry_run)
    if output == "json":
        out.write(json.dumps(asdict(result), indent=2) + "\n")
        return
    verb = "would remove" if dry_run else "removed"
    out.write(f"{tagbase}: {verb} the catalogue entry and {len(result.removed_files)} file(s) under "
              f"{result.folder}/" + (f" in commit {result.commit[:12]}" if result.commit else " (dry run)") + "\n")
    if usage is not None:
        out.table(result.consumers, columns=["repository", "file", "line", "reference", "class"],
                  title=f"Consumers still using {tagbase}")
        if result.consumers:
            out.warning(f"{len(result.consumers)} consumer reference(s) still use {tagbase}; "
                        f"migrate them before its tags age out (lifecycle consumers migrate)")
    else:
        out.info("no --usage file given: consumers not checked (lifecycle consumers scan --usage-out FILE)")
