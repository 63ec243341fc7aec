"""lifecycle status"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import click

from lifecycle.cleanup.rules import Usage, load_usage, parse_iso
from lifecycle.errors import OperationError
from lifecycle.commands.options import git_options, insecure_option, output_option, repo_option, reporter
from lifecycle.packages import PackageChecker
from lifecycle.production.gitops import GitOps
from lifecycle.registry.pool import RegistryPool
from lifecycle.output import Reporter, short_digest
from lifecycle.status.collect import check_link_template, collect_status
from lifecycle.status.diff import image_diff
from lifecycle.status.packages_diff import security_text
from lifecycle.status.render_html import write_page
from lifecycle.status.render_text import floating_hold_rows, headline, image_row, markdown_summary, rollout_rows


@click.command()
@repo_option
@output_option
@insecure_option
@git_options
@click.option("--usage", "usage_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Usage file from `lifecycle consumers scan --usage-out`: consumers per image.")
@click.option("--link-template", metavar="URL",
              help="Link for a consumer reference, with {repository}, {file} and {line}, e.g. "
                   "'https://dev.azure.com/org/project/_git/{repository}?path=/{file}&line={line}'.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the status page (one self-contained HTML file) here.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the markdown run summary here (uploaded as the pipeline's summary).")
@click.option("--rollouts", type=click.IntRange(0, 100), default=12, show_default=True,
              help="How many of production's recent rollouts and reverts to show.")
@click.option("--no-cleanup", "skip_cleanup", is_flag=True,
              help="Skip the cleanup plan and its one HEAD per tag (then about the requests of `stale`).")
@click.option("--now", "now_text", metavar="ISO", help="Evaluate ages at this time (default: now, UTC).")
@click.option("--diff", "diff_image", metavar="IMAGE",
              help="Only what IMAGE's consumers get at the next rollout: -latest against -staging (commits, bases, "
                   "OS packages).")
@click.option("--packages/--no-packages", "read_packages", default=None,
              help="Read the OS package lists inside -latest and -staging (one container per distinct digest, "
                   "only for images whose channels differ): on by default with --diff, off for the page.")
def status(repo: Path, output: str, insecure: tuple[str, ...], remote: str, main_branch: str, production: str,
           usage_file: Path | None, link_template: str | None, html_path: Path | None, summary_path: Path | None,
           rollouts: int, skip_cleanup: bool, now_text: str | None, diff_image: str | None,
           read_packages: bool | None) -> None:
    """Every image at a glance: channels, holds, LKG, stale reasons, end of life, consumers, cleanup."""
    out = reporter(output)
    check_link_template(link_template)  # bad input: exit 2 before any request
    usage = load_usage(usage_file) if usage_file else Usage()
    now = parse_iso(now_text, "--now")
    ops = GitOps(repo, remote, main_branch, production)
    ops.fetch()
    with ExitStack() as stack:
        wanted = read_packages if read_packages is not None else bool(diff_image)
        checker = package_checker(stack) if wanted else None
        if diff_image:
            print_diff(out, output, ops, tuple(insecure), diff_image, checker)
            return
        with RegistryPool(tuple(insecure)) as pool:
            fleet = collect_status(ops, pool, usage=usage, now=now, link_template=link_template, rollouts=rollouts,
                                   cleanup=not skip_cleanup, packages=checker)
    if html_path:
        write_page(fleet, html_path)
        out.info(f"status page written to {html_path}")
    if summary_path:
        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(markdown_summary(fleet, html_path.name if html_path else None), encoding="utf-8")
        out.upload_summary(str(summary_path))
    for name, value in (("heldCount", "held"), ("staleCount", "stale"), ("eolCount", "eol")):
        out.set_variable(name, str(fleet.counts()[value]))
    if output == "json":
        out.write(json.dumps(fleet.to_dict(), indent=2) + "\n")
        return
    out.table([image_row(i, fleet.cleanup_checked) for i in fleet.images], title=headline(fleet))
    out.write("\n")
    out.table([fleet.totals()], title="Totals")
    out.write("\n")
    if fleet.floating_holds:
        out.table(floating_hold_rows(fleet), title="Floating tags held")
        out.write("\n")
    out.table(rollout_rows(fleet), title=f"Recent rollouts on {production}")


def package_checker(stack: ExitStack) -> PackageChecker:
    from lifecycle.build.engine import Engine  # only the package lists need the engine

    try:
        engine = stack.enter_context(Engine())
    except OperationError as e:
        raise OperationError(f"{e}\n  or pass --no-packages for a registry-only run") from e
    return PackageChecker(engine)


def print_diff(out: Reporter, output: str, ops: GitOps, insecure: tuple[str, ...], tagbase: str,
               checker: PackageChecker | None = None) -> None:
    ws = ops.workspace(ops.main_head())
    with RegistryPool(insecure) as pool:
        diff = image_diff(ops, ws, pool.get(ws.catalog.registry), tagbase, packages=checker)
    if output == "json":
        out.write(json.dumps(diff.to_dict(), indent=2) + "\n")
        return
    head = (f"{tagbase}: -latest {short_digest(diff.latest) or 'not published'} "
            f"({(diff.latest_revision or 'no revision')[:10]}) -> -staging {short_digest(diff.staging) or 'not published'} "
            f"({(diff.staging_revision or 'no revision')[:10]})")
    out.table([{"commit": c.sha[:10], "time": c.time, "author": c.author, "subject": c.subject} for c in diff.commits],
              title=head + " — commits touching its files")
    out.write("\n")
    out.table([{"base": b.reference, "latest": short_digest(b.latest), "staging": short_digest(b.staging)}
               for b in diff.bases], title="Base digests that change")
    out.write("\n")
    if diff.packages:
        out.table([{"package": p.name, "latest": p.latest or "(not installed)", "staging": p.staging or "(removed)",
                    "security": security_text(p.security)} for p in diff.packages],
                  title="OS packages that change version" + (f" ({diff.packages_note})" if diff.packages_note else ""))
        out.write("\n")
    elif diff.packages_note:
        out.write(f"OS packages: {diff.packages_note}\n")
    out.write(f"{diff.note}\n" if diff.note else "")
