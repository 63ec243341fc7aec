"""lifecycle registry digest|inspect|tags|retag|delete: OCI distribution operations on one reference."""

from __future__ import annotations

import click

from lifecycle.commands.options import dry_run_option, insecure_option, output_option, reporter
from lifecycle.errors import InputError, OperationError
from lifecycle.output import Reporter
from lifecycle.registry import Reference, RegistryClient, parse_reference
from lifecycle.registry.reference import is_digest


def _client(ref: Reference, insecure: tuple[str, ...], out: Reporter, concurrency: int = 8) -> RegistryClient:
    client = RegistryClient(ref.registry, insecure=insecure, concurrency=concurrency)
    credentials = client.transport.auth.credentials
    if credentials:
        out.add_secret(credentials.password)
    return client


@click.group()
def registry() -> None:
    """OCI distribution operations: resolve, inspect, list tags, retag, delete."""


@registry.command()
@click.argument("ref")
@output_option
@insecure_option
def digest(ref: str, output: str, insecure: tuple[str, ...]) -> None:
    """Print the digest REF (host/repo:tag or host/repo@sha256:...) points at."""
    out = reporter(output)
    parsed = parse_reference(ref, require_ref=True)
    with _client(parsed, insecure, out) as client:
        value = client.resolve(parsed.repository, parsed.ref)
    if output == "table":
        out.write(value + "\n")
    else:
        out.table([{"reference": str(parsed), "digest": value}], data={"reference": str(parsed), "digest": value})


@registry.command()
@click.argument("ref")
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="For an index: whose config to read.")
@output_option
@insecure_option
def inspect(ref: str, platform: str | None, output: str, insecure: tuple[str, ...]) -> None:
    """Media type, digest, children (for an index), created and labels of REF."""
    out = reporter(output)
    parsed = parse_reference(ref, require_ref=True)
    with _client(parsed, insecure, out) as client:
        manifest = client.manifest(parsed.repository, parsed.ref)
        try:
            config = client.config(parsed.repository, manifest.digest, platform)
        except ValueError as exc:
            raise InputError(f"--platform: {exc}") from None
    children = [{"digest": c.digest, "platform": str(c.platform) if c.platform else None,
                 "mediaType": c.media_type, "size": c.size} for c in manifest.children]
    data = {"reference": str(parsed), "digest": manifest.digest, "mediaType": manifest.media_type,
            "size": len(manifest.raw), "children": children,
            "config": {"manifest": config.manifest_digest,
                       "platform": str(config.platform) if config.platform else None,
                       "created": config.created.isoformat() if config.created else None, "labels": config.labels}}
    rows = [{"field": "digest", "value": manifest.digest}, {"field": "mediaType", "value": manifest.media_type},
            {"field": "size", "value": len(manifest.raw)}]
    rows += [{"field": f"child {c['platform']}", "value": c["digest"]} for c in children]
    rows += [{"field": "created", "value": data["config"]["created"]},
             {"field": "platform", "value": data["config"]["platform"]}]
    rows += [{"field": f"label {k}", "value": v} for k, v in sorted(config.labels.items())]
    out.table(rows, data=data)


@registry.command()
@click.argument("repo_ref", metavar="HOST/REPO")
@click.option("--page-size", type=click.IntRange(1, 10000), default=None, help="Tags per request (n=).")
@output_option
@insecure_option
def tags(repo_ref: str, page_size: int | None, output: str, insecure: tuple[str, ...]) -> None:
    """List the tags of a repository (all pages)."""
    out = reporter(output)
    parsed = parse_reference(repo_ref)
    if parsed.ref:
        raise InputError(f"{repo_ref!r}: name a repository (host/repo) without a tag or digest")
    with _client(parsed, insecure, out) as client:
        found = client.tags(parsed.repository, page_size=page_size)
    out.table([{"tag": t} for t in found], data=found)


@registry.command()
@click.argument("source")
@click.argument("new_tags", metavar="TAG...", nargs=-1, required=True)
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True)
@output_option
@insecure_option
@dry_run_option
def retag(source: str, new_tags: tuple[str, ...], concurrency: int, output: str, insecure: tuple[str, ...],
          dry_run: bool) -> None:
    """Point each TAG (in SOURCE's repository) at SOURCE's manifest: same bytes, same digest."""
    out = reporter(output)
    parsed = parse_reference(source, require_ref=True)
    for tag in new_tags:
        if "/" in tag or "@" in tag:
            raise InputError(f"{tag!r}: give bare tags; they are created in {parsed.name}")
    with _client(parsed, insecure, out, concurrency) as client:
        results = client.retag_many(parsed.repository, [(parsed.ref, t) for t in new_tags], dry_run=dry_run)
    rows = [r.as_row() for r in results]
    out.table(rows, columns=["tag", "status", "digest", "previous", "error"], data=rows)
    failed = [r.tag for r in results if r.status == "failed"]
    if failed:
        raise OperationError(f"{len(failed)} of {len(results)} tags failed: {', '.join(failed)} "
                             f"(re-run to finish; tags already moved stay moved)")


@registry.command()
@click.argument("ref")
@output_option
@insecure_option
@dry_run_option
def delete(ref: str, output: str, insecure: tuple[str, ...], dry_run: bool) -> None:
    """Delete the manifest REF points at (by digest: every tag on it goes too)."""
    out = reporter(output)
    parsed = parse_reference(ref, require_ref=True)
    with _client(parsed, insecure, out) as client:
        target = client.resolve(parsed.repository, parsed.ref)  # also proves it exists, dry run or not
        if not is_digest(target):
            raise OperationError(f"{ref}: registry returned no digest")
        if parsed.digest and parsed.tag:
            # host/repo:tag@digest: only delete when the tag still points there.
            actual = client.resolve(parsed.repository, parsed.tag)
            if actual != parsed.digest:
                raise OperationError(f"{ref}: tag {parsed.tag} now points at {actual}; nothing deleted")
        if not dry_run:
            client.delete(parsed.repository, target)
    row = {"reference": str(parsed), "digest": target, "status": "would-delete" if dry_run else "deleted"}
    out.table([row], data=row)
