"""lifecycle cleanup"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from lifecycle.cleanup.rules import CleanupPlan, Usage, decide, load_usage, parse_iso
from lifecycle.cleanup.registry import apply_plan, check_plan_target, load_manifests, preview, read_inventory
from lifecycle.commands.options import insecure_option, output_option, repo_option, reporter
from lifecycle.errors import OperationError
from lifecycle.output import short_digest
from lifecycle.registry import RegistryClient


@click.command()
@repo_option
@output_option
@insecure_option
@click.option("--apply", "do_apply", is_flag=True, help="Delete. Without it nothing is deleted (dry run).")
@click.option("--dry-run", is_flag=True, help="The default; spelled out for symmetry with other verbs.")
@click.option("--plan-file", type=click.Path(dir_okay=False, path_type=Path), help="Write the plan (JSON) here.")
@click.option("--from-plan", type=click.Path(dir_okay=False, path_type=Path),
              help="Apply exactly this reviewed plan (re-checked, not recomputed).")
@click.option("--max-deletions", type=click.IntRange(0), default=None, help="Delete at most N digests this run.")
@click.option("--usage", "usage_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Usage file from `lifecycle consumers scan --usage-out`: its tags and digests are kept.")
@click.option("--now", "now_text", metavar="ISO", help="Evaluate ages at this time (default: now, UTC).")
def cleanup(repo: Path, output: str, insecure: tuple[str, ...], do_apply: bool, dry_run: bool,
            plan_file: Path | None, from_plan: Path | None, max_deletions: int | None,
            usage_file: Path | None, now_text: str | None) -> None:
    """Delete old immutable tags by policy; dry-run by default."""
    if do_apply and dry_run:
        raise click.UsageError("--apply and --dry-run contradict each other")
    out = reporter(output)
    catalog, policy = load_manifests(repo)  # bad policy: InputError (exit 2) before any request
    usage = load_usage(usage_file) if usage_file else Usage()
    now = parse_iso(now_text, "--now") or dt.datetime.now(dt.timezone.utc)
    if from_plan:  # every field checked (exit 2) before the registry is asked anything
        plan = CleanupPlan.load(from_plan)
        check_plan_target(plan, catalog, str(from_plan))
    runs: list[tuple[CleanupPlan, list]] = []
    with RegistryClient(catalog.registry, insecure=insecure) as client:
        # one plan per registry repository of the catalogue (each image's tags live in its own), or the
        # one reviewed plan; --max-deletions bounds the whole run
        plans = [plan] if from_plan else [
            decide(read_inventory(client, repository, catalog), catalog, policy, usage, now, repository)
            for repository in catalog.repositories]
        budget = max_deletions
        for one in plans:
            if plan_file and not from_plan:
                target = _plan_path(plan_file, one.repository, catalog.repository)
                one.write(target)
                out.info(f"plan for {one.registry}/{one.repository} written to {target}")
            if do_apply or from_plan:
                outcomes = apply_plan(client, one, policy, usage, max_deletions=budget, dry_run=not do_apply)
            else:
                outcomes = preview(one, budget)
            if budget is not None:
                budget = max(0, budget - sum(o.status in ("deleted", "would-delete") for o in outcomes))
            runs.append((one, outcomes))

    mode = "apply" if do_apply else "dry run"
    if output == "json":
        # `plan`/`outcomes`: the first repository's (the default), as before; `plans`: every repository's
        out.write(json.dumps({"mode": mode, "plan": runs[0][0].to_dict(), "outcomes": [o.as_row() for o in runs[0][1]],
                              "plans": [{"plan": p.to_dict(), "outcomes": [o.as_row() for o in o_]}
                                        for p, o_ in runs]}, indent=2) + "\n")
    else:
        for one, outcomes in runs:
            _print_summary(out, one, outcomes, do_apply, mode)
    every = [o for _, outcomes in runs for o in outcomes]
    failed = [o for o in every if o.status == "failed"]
    out.problems(("warning", f"skipped {o.digest} ({', '.join(o.tags)}): {o.detail}")
                 for o in every if o.status == "skipped")
    if failed:
        raise OperationError(f"{len(failed)} deletion(s) failed; re-run to finish: "
                             + "; ".join(f"{o.digest}: {o.detail}" for o in failed))


def _plan_path(path: Path, repository: str, default: str) -> Path:
    """Where `--plan-file` puts one repository's plan: PATH for the default repository, and for any other
    `<stem>.<repository with / as ->.<suffix>` beside it (a plan file is one repository's, for --from-plan)."""
    if repository == default:
        return path
    return path.with_name(f"{path.stem}.{repository.replace('/', '-')}{path.suffix}")


MAX_ROWS = 500  # a pipeline summary must stay readable; the plan file has every row


def _print_summary(out, plan: CleanupPlan, outcomes: list, applied: bool, mode: str) -> None:
    totals = plan.totals()
    done = sum(o.status in ("deleted", "would-delete") for o in outcomes)
    totals["deleted" if applied else "wouldDelete"] = done
    totals["skipped"] = sum(o.status == "skipped" for o in outcomes)
    totals["capped"] = sum(o.status == "capped" for o in outcomes)
    out.table([totals], title=f"Cleanup of {plan.registry}/{plan.repository} ({mode}, ages at {plan.now})")
    kept = [{"tag": d.tag, "digest": short_digest(d.digest), "built": (d.built_at or "")[:10], "reason": d.reason}
            for d in plan.candidates if d.action != "delete"]
    _capped_table(out, kept, "Candidates kept")
    rows = [{"digest": short_digest(o.digest), "status": o.status, "tags": ", ".join(o.tags), "detail": o.detail}
            for o in outcomes]
    _capped_table(out, rows, "Digests deleted" if applied else "Digests to delete")


def _capped_table(out, rows: list[dict], title: str) -> None:
    shown = rows[:MAX_ROWS]
    out.write("\n")
    out.table(shown, title=f"{title} ({len(rows)})")
    if len(rows) > len(shown):
        out.write(f"\n... and {len(rows) - len(shown)} more (every row is in the plan file / --output json)\n")
