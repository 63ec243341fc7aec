"""lifecycle consumers scan|migrate: find who uses which image; move them to `-latest`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lifecycle.commands.options import dry_run_option, insecure_option, output_option, repo_option, reporter
from lifecycle.errors import InputError, Location, OperationError
from lifecycle.output import Reporter

CLASS_CHOICES = ("latest", "staging", "bare", "pinned", "digest", "unknown", "expression", "missing", "eol")


def _common(f):
    f = click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Consumers file (default: <repo>/manifests/consumers.yml).")(f)
    f = click.option("--consumer", "names", multiple=True, metavar="NAME",
                     help="Only this repository of the consumers file (repeatable).")(f)
    f = click.option("--no-registry", is_flag=True,
                     help="Do not ask the registry (no 'missing' class, no resolved digests).")(f)
    return insecure_option(output_option(repo_option(f)))


def _prepare(repo: Path, config: Path | None, names: tuple[str, ...], no_registry: bool,
             insecure: tuple[str, ...], out: Reporter):
    """Catalogue, consumers file, sources, registry view: everything scan and migrate share."""
    from lifecycle.catalog import CATALOG_PATH, parse_catalog
    from lifecycle.consumers.classify import KnownImages, RegistryView
    from lifecycle.consumers.config import CONSUMERS_PATH, load_consumers
    from lifecycle.consumers.sources import open_source

    catalog_file = repo / CATALOG_PATH
    if not catalog_file.is_file():
        raise InputError("catalogue not found", Location(str(catalog_file)))
    catalog = parse_catalog(catalog_file.read_text(encoding="utf-8"), CATALOG_PATH)
    known = KnownImages.from_catalog(catalog)
    config_path = config or repo / CONSUMERS_PATH
    consumers = load_consumers(config_path, repo, str(config or CONSUMERS_PATH))
    selected = consumers.select(names)
    azdo = None
    if any(r.azure_devops for r in selected):
        from lifecycle.azdo import AzureDevOps

        azdo = AzureDevOps.from_env()
        out.add_secret(azdo.token.reveal())
    sources = [open_source(r, azdo) for r in selected]
    registry = client = None
    if not no_registry:
        from lifecycle.registry import RegistryClient

        client = RegistryClient(catalog.registry, insecure=insecure)
        credentials = client.transport.auth.credentials
        if credentials:
            out.add_secret(credentials.password)
        registry = RegistryView(client, catalog.repository)
    return known, consumers, sources, registry, client, azdo


@click.group()
def consumers() -> None:
    """Find references to our images in consumer repositories; move them to -latest."""


@consumers.command()
@_common
@click.option("--usage-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the usage file (every referenced tag and digest) for `cleanup --usage`.")
@click.option("--fail-on", multiple=True, type=click.Choice(CLASS_CHOICES),
              help="Exit 1 when a reference has this class (repeatable), e.g. missing, eol.")
def scan(repo: Path, config: Path | None, names: tuple[str, ...], no_registry: bool, output: str,
         insecure: tuple[str, ...], usage_out: Path | None, fail_on: tuple[str, ...]) -> None:
    """Find and classify every reference to our registry and repository."""
    from lifecycle.consumers.scan import scan as run_scan

    out = reporter(output)
    known, consumers_cfg, sources, registry, client, _ = _prepare(repo, config, names, no_registry, insecure, out)
    try:
        result = run_scan(sources, known, consumers_cfg.registry_aliases, registry)
    finally:
        if client is not None:
            client.close()
    rows = result.rows()
    columns = ["repository", "file", "line", "column", "kind", "class", "image", "note"]
    out.table(rows, columns, title="Image references", data={"references": rows, "counts": result.counts()})
    if output != "json":
        summary = ", ".join(f"{k}: {v}" for k, v in result.counts().items()) or "no references"
        out.info(f"{len(rows)} reference(s) in {sum(len(s.files) for s in result.sources)} file(s) of "
                 f"{len(result.sources)} repository(ies); {summary}")
    out.problems(("warning", f"{source}:{c.reference.path}:{c.reference.line}: {c.reference.text}: {c.klass}: "
                             f"{c.note}") for source, c in result.references if c.klass in ("missing", "eol"))
    if usage_out:
        usage_out.parent.mkdir(parents=True, exist_ok=True)
        usage_out.write_text(json.dumps(result.usage(), indent=2) + "\n", encoding="utf-8")
        out.info(f"usage written to {usage_out}")
    bad = [c for _, c in result.references if c.klass in fail_on]
    if bad:
        raise OperationError(f"{len(bad)} reference(s) of class {', '.join(sorted({c.klass for c in bad}))}")


@consumers.command()
@_common
@dry_run_option
@click.option("--pull-request", is_flag=True,
              help="For Azure DevOps repositories: push a branch and open a pull request per repository.")
@click.option("--branch", default=None, metavar="NAME",
              help="Branch for the pull requests (default lifecycle/migrate-to-latest).")
def migrate(repo: Path, config: Path | None, names: tuple[str, ...], no_registry: bool, output: str,
            insecure: tuple[str, ...], dry_run: bool, pull_request: bool, branch: str | None) -> None:
    """Rewrite pinned and bare references to <tagbase>-latest, changing only the reference text."""
    from lifecycle.consumers.migrate import DEFAULT_BRANCH, apply_local, open_pull_request, plan_source
    from lifecycle.consumers.scan import scan as run_scan
    from lifecycle.consumers.sources import AzdoSource, LocalSource

    out = reporter(output)
    known, consumers_cfg, sources, registry, client, azdo = _prepare(repo, config, names, no_registry,
                                                                     insecure, out)
    try:
        result = run_scan(sources, known, consumers_cfg.registry_aliases, registry)
        migrations = [(s, plan_source(s, registry)) for s in result.sources]
    finally:
        if client is not None:
            client.close()
    rows = []
    for scanned, migration in migrations:
        source = scanned.source
        for skip in migration.skipped:
            out.warning(f"{source.name}:{skip.path}:{skip.line}: {skip.reference} left alone: {skip.reason}")
        if not migration.changes:
            continue
        remote_without_pr = isinstance(source, AzdoSource) and not pull_request
        if (dry_run or remote_without_pr) and output != "json":
            out.write("".join(c.diff(source.name) for c in migration.changes))
        if remote_without_pr and not dry_run:
            out.info(f"{source.name} is on Azure DevOps: pass --pull-request to open a pull request")
        elif not dry_run:
            if isinstance(source, LocalSource):
                apply_local(source, migration)
            else:
                assert azdo is not None
                open_pull_request(source, migration, azdo, branch or DEFAULT_BRANCH)
                pr = migration.pull_request
                if pr is not None:
                    verb = "already open" if migration.pull_request_existed else "opened"
                    out.info(f"{source.name}: pull request {pr.id} {verb}: {pr.url}")
        pr = migration.pull_request
        for e in migration.edits:
            rows.append({"repository": source.name, "file": e.path, "line": e.line, "class": e.klass,
                         "from": e.old, "to": e.new, "applied": not dry_run and not remote_without_pr,
                         "pull_request": pr.url if pr else None})
    title = "Would rewrite" if dry_run else "Rewritten"
    out.table(rows, ["repository", "file", "line", "class", "from", "to", "pull_request"], title=title)
