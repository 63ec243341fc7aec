"""lifecycle reconcile"""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.commands.options import production_options, reporter
from lifecycle.commands.rollout import print_journal
from lifecycle.errors import OperationError
from lifecycle.production.gitops import GitOps
from lifecycle.output import short_digest
from lifecycle.production.reconcile import failed_tags, publish_with, reconcile as run_reconcile
from lifecycle.registry.pool import RegistryPool


def new_engine() -> object:
    from lifecycle.build.engine import Engine

    return Engine()


@click.command()
@production_options
@click.option("--channel", type=click.Choice(["latest"]), required=True, help="The production channel.")
@click.option("--fetch/--no-fetch", default=True, show_default=True,
              help="Fetch the remote first (--no-fetch: use the remote-tracking refs as they are).")
def reconcile(repo: Path, output: str, dry_run: bool, insecure: tuple[str, ...], remote: str, main_branch: str,
              production: str, journal_path: Path | None, channel: str, fetch: bool) -> None:
    """Point every image's -latest at the LKG of its definition at production HEAD (build what is missing)."""
    out = reporter(output)
    ops = GitOps(repo, remote, main_branch, production)
    if fetch:
        ops.fetch()
    registry = ops.workspace(ops.production_head()).catalog.registry
    with RegistryPool(insecure) as pool:
        client = pool.get(registry)
        report = run_reconcile(ops, client, out, channel=channel, dry_run=dry_run, journal_path=journal_path,
                               publish_missing=publish_with(new_engine, client, out, pool), fetch=False)
    rows = [{"tag": e.tag, "status": e.status, "previous": short_digest(e.previous), "latest": short_digest(e.new)}
            for e in report.entries]
    title = f"Reconcile latest to production {report.commit[:10]}" + (" (dry run)" if dry_run else "")
    data = {"commit": report.commit, "dry_run": dry_run, "built": report.built, "departed": report.departed,
            "unresolved": [u.as_row() for u in report.unresolved],
            "tags": [e.__dict__ for e in report.entries],
            "holds": [h.as_row() for h in report.holds.values()]}
    out.table(rows, title=title, data=data)
    if output != "json":
        if report.built:
            out.write(f"Built and published from production: {', '.join(report.built)}\n")
        if report.holds:
            out.table([h.as_row() for h in report.holds.values()], title="Held (tags stay where they are)")
        if report.departed:
            out.write(f"Left the catalogue (tags kept; cleanup handles them): {', '.join(report.departed)}\n")
        if dry_run and report.unresolved:
            out.write("Would build, test and publish from production: "
                      + ", ".join(u.tagbase for u in report.unresolved) + "\n")
        if report.journal is not None:
            print_journal(out, report.journal.to_json(), output)
    if not dry_run and report.unresolved:
        raise OperationError("no published digest for: " + "; ".join(f"{u.tagbase} ({u.reason})"
                                                                   for u in report.unresolved))
    if not dry_run and report.holds:
        # a revert meant these tags to move: the run that leaves them must not look like a rollback done
        raise OperationError("held, tags left where they are: " + "; ".join(
            f"{h.tagbase} ({h.reason})" for h in report.holds.values()) + ". An emergency rollback to such a "
            "digest: lifecycle rollback --image TAGBASE --emergency --allow-unverified (docs/rollback.md)")
    if failed_tags(report.entries):
        raise OperationError(f"retag failed: {', '.join(failed_tags(report.entries))}; run reconcile again")
