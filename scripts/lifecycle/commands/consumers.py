"""lifecycle consumers scan|migrate: find who uses which image; move them to `-latest`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from lifecycle.commands.options import dry_run_option, insecure_option, output_option, repo_option, reporter
from lifecycle.errors import InputError, Location, OperationError
from lifecycle.output import Reporter

CLASS_CHOICES = ("latest", "staging", "bare", "pinned", "digest", "floating", "unknown", "expression", "missing",
                 "eol")
PIN_AGE = re.compile(r"^pinned-older-than=(\d+)d$")


class FailOn(click.ParamType):
    """A class name, or `pinned-older-than=<N>d` (a tag@sha256: pin on an image older than N days)."""

    name = "CLASS|pinned-older-than=Nd"

    def convert(self, value, param, ctx):
        if value in CLASS_CHOICES or PIN_AGE.match(value):
            return value
        self.fail(f"{value!r}: expected one of {', '.join(CLASS_CHOICES)} or pinned-older-than=<days>d", param, ctx)


def failing(fail_on: tuple[str, ...], classified) -> bool:
    """Whether one reference trips any --fail-on condition."""
    for condition in fail_on:
        age = PIN_AGE.match(condition)
        if age:
            if classified.form == "digest" and classified.age_days is not None and \
                    classified.age_days > int(age.group(1)):
                return True
        elif classified.klass == condition:
            return True
    return False


def _common(f):
    # a str, not a Path: messages name the file exactly as given (`./x.yml` stays `./x.yml`)
    f = click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
                     help="Consumers file (default: <repo>/manifests/consumers.yml).")(f)
    f = click.option("--consumer", "names", multiple=True, metavar="NAME",
                     help="Only this repository of the consumers file (repeatable).")(f)
    f = click.option("--no-registry", is_flag=True,
                     help="Do not ask the registry (no 'missing' class, no resolved digests).")(f)
    return insecure_option(output_option(repo_option(f)))


def _prepare(repo: Path, config: str | None, names: tuple[str, ...], no_registry: bool,
             insecure: tuple[str, ...], out: Reporter):
    """Catalogue, consumers file, sources, registry view: everything scan and migrate share."""
    from lifecycle.catalogue.catalog import CATALOG_PATH, parse_catalog
    from lifecycle.consumers.classify import KnownImages, RegistryView
    from lifecycle.consumers.config import CONSUMERS_PATH, load_consumers
    from lifecycle.consumers.sources import open_sources

    catalog_file = repo / CATALOG_PATH
    if not catalog_file.is_file():
        raise InputError("catalogue not found", Location(str(catalog_file)))
    catalog = parse_catalog(catalog_file.read_text(encoding="utf-8"), CATALOG_PATH)
    floating_tags = _floating(repo)
    known = KnownImages.from_catalog(catalog, {f.tag: f.target for f in floating_tags})
    config_path = Path(config) if config else repo / CONSUMERS_PATH
    consumers = load_consumers(config_path, repo, config or CONSUMERS_PATH)
    selected = consumers.select(names)
    azdo = None
    if any(r.azure_devops for r in selected):
        from lifecycle.azdo import AzureDevOps

        azdo = AzureDevOps.from_env()
        out.add_secret(azdo.token.reveal())
    sources = [s for r in selected for s in open_sources(r, azdo)]
    registry = client = None
    if not no_registry:
        from lifecycle.registry import RegistryClient

        client = RegistryClient(catalog.registry, insecure=insecure)
        credentials = client.transport.auth.credentials
        if credentials:
            out.add_secret(credentials.password)
        registry = RegistryView(client, catalog.repository)
    return known, consumers, sources, registry, client, azdo


def _floating(repo: Path):
    from lifecycle.catalogue import floating

    path = repo / floating.FLOATING_PATH
    return floating.parse(path.read_text(encoding="utf-8"), floating.FLOATING_PATH) if path.is_file() else ()


def _targets(repo: Path, known, unpin: bool):
    """The per-branch migration rules: floating tags and .NET versions of the GitOps repository."""
    from lifecycle.catalogue.policy import POLICY_PATH, parse_policy
    from lifecycle.consumers.targets import Targets

    policy_file = repo / POLICY_PATH
    versions: tuple[str, ...] = ()
    if policy_file.is_file():
        versions = tuple(parse_policy(policy_file.read_text(encoding="utf-8"), POLICY_PATH).dotnet_versions)
    return Targets(known, _floating(repo), versions, unpin)


@click.group()
def consumers() -> None:
    """Find references to our images in consumer repositories; move them to -latest."""


@consumers.command()
@_common
@click.option("--usage-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the usage file (every referenced tag and digest) for `cleanup --usage`.")
@click.option("--fail-on", multiple=True, type=FailOn(),
              help="Exit 1 when a reference has this class (repeatable), e.g. missing, eol; or "
                   "pinned-older-than=30d for tag@sha256: pins on images older than 30 days.")
@click.option("--by-image", is_flag=True,
              help="One row per image: which repositories and branches use it, and how.")
def scan(repo: Path, config: str | None, names: tuple[str, ...], no_registry: bool, output: str,
         insecure: tuple[str, ...], usage_out: Path | None, fail_on: tuple[str, ...], by_image: bool) -> None:
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
    if by_image:
        from lifecycle.consumers.scan import by_image as group

        images = group(result)
        out.table(images, ["image", "references", "classes", "used_by"], title="Images and their users",
                  data={"images": images, "counts": result.counts()})
    else:
        columns = ["repository", *(["branch"] if any(r["branch"] for r in rows) else []),
                   "file", "line", "column", "kind", "class", "image", "note"]
        out.table(rows, columns, title="Image references", data={"references": rows, "counts": result.counts()})
    if output != "json":
        summary = ", ".join(f"{k}: {v}" for k, v in result.counts().items()) or "no references"
        out.info(f"{len(rows)} reference(s) in {sum(len(s.files) for s in result.sources)} file(s) of "
                 f"{len(result.sources)} repository(ies); {summary}")
    out.problems(("warning", f"{source}{'@' + branch if branch else ''}:{c.reference.path}:{c.reference.line}: "
                             f"{c.reference.text}: {c.klass}: {c.note}")
                 for source, branch, c in result.located() if c.klass in ("missing", "eol"))
    if usage_out:
        usage_out.parent.mkdir(parents=True, exist_ok=True)
        usage_out.write_text(json.dumps(result.usage(), indent=2) + "\n", encoding="utf-8")
        out.info(f"usage written to {usage_out}")
    bad = [c for _, c in result.references if failing(fail_on, c)]
    if bad:
        raise OperationError(f"{len(bad)} reference(s) fail {', '.join(fail_on)}: "
                             f"{', '.join(sorted({c.klass for c in bad}))}")


@consumers.command()
@_common
@dry_run_option
@click.option("--pull-request", is_flag=True,
              help="For Azure DevOps repositories: push a branch and open a pull request per repository.")
@click.option("--branch", default=None, metavar="NAME",
              help="Branch for the pull requests (default lifecycle/migrate-to-latest; with branches: in the "
                   "consumers file, <NAME>/<scanned branch>).")
@click.option("--unpin", is_flag=True, help="Also move tag@sha256: pins (left alone by default).")
def migrate(repo: Path, config: str | None, names: tuple[str, ...], no_registry: bool, output: str,
            insecure: tuple[str, ...], dry_run: bool, pull_request: bool, branch: str | None, unpin: bool) -> None:
    """Move references to the branch's .NET floating tag, else <tagbase>-latest, changing only the reference text."""
    from lifecycle.consumers.migrate import (DEFAULT_BRANCH, apply_branch, apply_local, open_pull_request,
                                             plan_source, pr_branch, unchecked_targets)
    from lifecycle.consumers.scan import scan as run_scan
    from lifecycle.consumers.sources import AzdoSource, GitBranchSource, LocalSource

    out = reporter(output)
    known, consumers_cfg, sources, registry, client, azdo = _prepare(repo, config, names, no_registry,
                                                                     insecure, out)
    try:
        result = run_scan(sources, known, consumers_cfg.registry_aliases, registry)
        targets = _targets(repo, known, unpin)
        migrations = [(s, plan_source(s, registry, lambda c, b=s.branch: targets.target(c, b),
                                      known.repository)) for s in result.sources]
    finally:
        if client is not None:
            client.close()
    if registry is None:  # --no-registry: every target tag is an unverified guess; say so, tag by tag
        for tag, count in unchecked_targets([m for _, m in migrations]).items():
            out.warning(f"{tag} was not checked in the registry (--no-registry): {count} reference(s) "
                        f"{'would be' if dry_run else 'are'} rewritten to it without knowing that it exists")
    rows = []
    left_alone = []
    for scanned, migration in migrations:
        source = scanned.source
        for skip in migration.skipped:
            out.warning(f"{source.name}:{skip.path}:{skip.line}: {skip.reference} left alone: {skip.reason}")
            left_alone.append({"repository": source.name, "branch": source.branch, "file": skip.path, "line": skip.line,
                               "reference": skip.reference, "reason": skip.reason})
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
            elif isinstance(source, GitBranchSource):
                apply_branch(source, migration, pr_branch(branch or DEFAULT_BRANCH, source))
                out.info(f"{source.name}@{source.branch}: branch {pr_branch(branch or DEFAULT_BRANCH, source)} "
                         f"written ({migration.commit[:10] if migration.commit else ''})")
            else:
                assert azdo is not None
                open_pull_request(source, migration, azdo, pr_branch(branch or DEFAULT_BRANCH, source))
                pr = migration.pull_request
                if pr is not None:
                    verb = "already open" if migration.pull_request_existed else "opened"
                    out.info(f"{source.name}: pull request {pr.id} {verb}: {pr.url}")
        pr = migration.pull_request
        for e in migration.edits:
            rows.append({"repository": source.name, "branch": source.branch, "file": e.path, "line": e.line,
                         "class": e.klass,
                         "from": e.old, "to": e.new, "applied": not dry_run and not remote_without_pr,
                         "pull_request": pr.url if pr else None})
    title = "Would rewrite" if dry_run else "Rewritten"
    branches = ["branch"] if any(r["branch"] for r in rows) else []
    out.table(rows, ["repository", *branches, "file", "line", "class", "from", "to", "pull_request"], title=title,
              data={"registryChecked": registry is not None, "edits": rows, "leftAlone": left_alone})
