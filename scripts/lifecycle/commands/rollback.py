"""lifecycle rollback"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from lifecycle.commands.options import production_options, reporter
from lifecycle.errors import OperationError
from lifecycle.production.gitops import GitOps
from lifecycle.production.journal import Journal
from lifecycle.output import Reporter, short_digest
from lifecycle.registry.pool import RegistryPool
from lifecycle.production.rollback import EmergencyResult, RevertResult, emergency, revert_commit, revert_image
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace


@click.command()
@production_options
@click.option("--commit", metavar="SHA", help="The production commit to revert (a rollout merge or a change).")
@click.option("--push", "mode", flag_value="push", help="Push the revert to production.")
@click.option("--pull-request", "mode", flag_value="pull-request",
              help="Push the revert to a rollback/ branch and open a pull request to production.")
@click.option("--azdo-repo", metavar="URL", help="Azure DevOps repository URL for the pull request "
              "(default: the remote's URL).")
@click.option("--image", "tagbase", metavar="TAGBASE",
              help="Revert this image (and its descendants) only, to its definition before production's last "
                   "change of it; with --emergency, the image whose latest goes back.")
@click.option("--emergency", "emergency_flag", is_flag=True,
              help="Retag the image's production tags to their previous digest now (journal or registry history).")
@click.option("--allow-unverified", is_flag=True,
              help="With --emergency under requireProvenance: move to a digest whose provenance fails the gate "
                   "(said in the output).")
@click.option("--legacy-journal", is_flag=True,
              help="Accept a --journal written before journals named their registry, repository and GitOps "
                   "repository (check by hand that it is this repository's).")
def rollback(repo: Path, output: str, dry_run: bool, insecure: tuple[str, ...], remote: str, main_branch: str,
             production: str, journal_path: Path | None, commit: str | None, mode: str | None,
             azdo_repo: str | None, tagbase: str | None, emergency_flag: bool, allow_unverified: bool,
             legacy_journal: bool) -> None:
    """Revert a commit (or one image) on production; --emergency also moves the image's latest back at once.

    \b
    lifecycle rollback --commit SHA --push|--pull-request   revert a production commit (a rollout merge: -m 1)
    lifecycle rollback --image TAGBASE --push|--pull-request  revert one image (and its descendants) only
    lifecycle rollback --image TAGBASE --emergency [--journal FILE] [--push|--pull-request]
                                                           retag latest to the previous digest now
    """
    out = reporter(output)
    if commit and tagbase:
        raise click.UsageError("choose either --commit SHA or --image TAGBASE")
    if not commit and not tagbase:
        raise click.UsageError("choose --commit SHA (--push | --pull-request) or --image TAGBASE")
    if emergency_flag and not tagbase:
        raise click.UsageError("--emergency needs --image TAGBASE")
    if mode is None and not emergency_flag:
        raise click.UsageError("say where the revert goes: --push or --pull-request (or --emergency for the retag)")
    if journal_path and not emergency_flag:
        raise click.UsageError("--journal is read by --emergency only")
    if legacy_journal and not journal_path:
        raise click.UsageError("--legacy-journal goes with --journal FILE")
    journal = Journal.read(journal_path) if journal_path else None   # bad input fails before any change
    ws = Workspace.load(WorkTree(repo)) if emergency_flag else None
    if journal is not None and ws is not None:   # another repository's journal: before the revert, too
        journal.check_belongs(ws.catalog, str(journal_path), legacy=legacy_journal)
    reverted: RevertResult | None = None
    if mode is not None:
        ops = GitOps(repo, remote, main_branch, production)
        create = None if dry_run or mode != "pull-request" else pull_request_opener(ops, remote, azdo_repo)
        if commit:
            reverted = revert_commit(ops, commit, mode=mode, dry_run=dry_run, create_pull_request=create,
                                     fetch=bool(remote))
        else:
            assert tagbase is not None
            reverted = revert_image(ops, tagbase, mode=mode, dry_run=dry_run, create_pull_request=create,
                                    fetch=bool(remote))
        print_revert(out, reverted)
    if emergency_flag:
        assert tagbase is not None and ws is not None
        with RegistryPool(insecure) as pool:
            result = emergency_run(ws, pool, tagbase, journal, journal_path, dry_run, legacy_journal,
                                   allow_unverified)
        print_emergency(out, result, production, reverted)
        if not result.ok:
            raise OperationError("retag failed: " + ", ".join(e.tag for e in result.entries if e.status == "failed"))


def pull_request_opener(ops: GitOps, remote: str, azdo_repo: str | None) -> Callable[[str, str, str, str],
                                                                                   tuple[int, str]]:
    from lifecycle.azdo import AzureDevOps, RepoRef

    target = RepoRef.parse_remote(azdo_repo or ops.repo.remote(remote).url)
    client = AzureDevOps.from_env()

    def open_pull_request(source: str, dest: str, title: str, body: str) -> tuple[int, str]:
        return client.create_pull_request(target, source, dest, title, body)

    return open_pull_request


def emergency_run(ws: Workspace, pool: RegistryPool, tagbase: str, journal: Journal | None,
                  journal_path: Path | None, dry_run: bool, legacy_journal: bool = False,
                  allow_unverified: bool = False) -> EmergencyResult:
    return emergency(ws, pool.get(ws.catalog.registry), tagbase, journal=journal,
                     journal_name=str(journal_path or ""), dry_run=dry_run, legacy_journal=legacy_journal,
                     allow_unverified=allow_unverified)


def print_revert(out: Reporter, result: RevertResult) -> None:
    verb = "would revert" if result.dry_run else "reverted"
    rows = [{"reverted": result.reverted[:10], "subject": result.subject, "revert": result.revert[:10],
             "branch": result.branch, "pushed": result.pushed,
             "pull_request": result.pull_request[1] if result.pull_request else ""}]
    out.table(rows, title=f"Rollback: {verb} {result.reverted[:10]} ({result.mode})", data=result.__dict__)
    if result.mode == "push" and result.pushed:
        out.info("production's pipeline now reconciles latest; check with `lifecycle lkg --commit "
                 "origin/production` and the reconcile run's journal")


def print_emergency(out: Reporter, result: EmergencyResult, production: str, reverted: RevertResult | None) -> None:
    rows = [{"tag": e.tag, "status": e.status, "previous": short_digest(e.previous), "now": short_digest(e.new)}
            for e in result.entries]
    title = f"Emergency rollback of {result.tagbase} from {result.source}" + (" (dry run)" if result.dry_run else "")
    out.table(rows, title=title, data={"image": result.tagbase, "source": result.source, "dry_run": result.dry_run,
                                       "tags": [e.__dict__ for e in result.entries],
                                       "unverified": result.unverified})
    if result.unverified:
        out.warning(f"--allow-unverified: {result.tagbase} {'would move' if result.dry_run else 'moved'} to a "
                    f"digest that fails the provenance gate: {result.unverified}")
    if reverted is not None and (reverted.pushed or reverted.dry_run):
        out.info(f"production is reverted by {reverted.revert[:10]} on {reverted.branch}"
                 + (" (merge the pull request to keep this rollback)" if reverted.mode == "pull-request" else ""))
        return
    which = f" the commit that moved it ({result.production_commit[:10]})" if result.production_commit else \
        " the change that brought the bad definition"
    out.warning(f"latest is only held back until the next reconcile or rollout: {production} must still be "
                f"reverted to keep it. Revert{which}: lifecycle rollback --commit <sha> --push, or this image "
                f"only: lifecycle rollback --image {result.tagbase} --push")
