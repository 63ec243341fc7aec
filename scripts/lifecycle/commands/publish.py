"""lifecycle publish"""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.commands.options import dry_run_option, insecure_option, output_option, repo_option, reporter
from lifecycle.commands.plan import compute_plan
from lifecycle.errors import OperationError
from lifecycle.output import short_digest
from lifecycle.build.manifest_index import publish_indexes
from lifecycle.catalogue.planning import Plan, plan_images
from lifecycle.build import imageinfo, publish_records
from lifecycle.build.final_move import move_from_info
from lifecycle.build.publish import CHANNELS, PublishReport, publish as run_publish
from lifecycle.registry.pool import RegistryPool
from lifecycle.catalogue.workspace import Workspace
from lifecycle.catalogue.source import WorkTree


@click.command()
@repo_option
@output_option
@dry_run_option
@insecure_option
@click.option("--channel", type=click.Choice(CHANNELS), default="staging", show_default=True,
              help="Which floating tag moves, and where unbuilt in-repo parents are taken from.")
@click.option("--since", metavar="REF", help="Publish images whose definition differs from REF (and descendants).")
@click.option("--all", "all_images", is_flag=True, help="Consider every image (unchanged ones are skipped).")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), help="A plan from `plan --out`.")
@click.option("--images", metavar="T1,T2", help="These tag bases (and their descendants).")
@click.option("--refresh", is_flag=True, help="Rebuild even when the channel image is current.")
@click.option("--no-cache", is_flag=True, help="Build without the engine's layer cache.")
@click.option("--no-push", is_flag=True, help="Build and test only (pull-request builds).")
@click.option("--no-move", is_flag=True, help="Push the immutable tags but leave <tagbase>-<channel> (matrix legs).")
@click.option("--move-from", "move_from", multiple=True, type=click.Path(path_type=Path),
              help="No build: move <tagbase>-<channel> to what these image-info files (or folders) recorded.")
@click.option("--info", "info_path", type=click.Path(dir_okay=False, path_type=Path), help="Write image-info.json here.")
@click.option("--no-descendants", is_flag=True,
              help="With --images: exactly these images; their descendants are later matrix levels' work.")
@click.option("--parents-from", "parents_from", multiple=True, type=click.Path(path_type=Path),
              help="Image-info files (or folders) of earlier matrix legs: in-repo parents they pushed are built "
                   "on by digest, parents they failed block their children. A missing folder means none.")
@click.option("--require-parents", "require_parents", metavar="T1,T2", default="",
              help="With --parents-from: these parents must have a record there; a missing one blocks its children.")
def publish(repo: Path, output: str, dry_run: bool, insecure: tuple[str, ...], channel: str, since: str | None,
            all_images: bool, plan_file: Path | None, images: str | None, refresh: bool, no_cache: bool,
            no_push: bool, no_move: bool, move_from: tuple[Path, ...], info_path: Path | None,
            no_descendants: bool, parents_from: tuple[Path, ...], require_parents: str) -> None:
    """Build in dependency order, test inside each image, push the immutable tag, move <tagbase>-<channel>."""
    out = reporter(output)
    if move_from:
        _move_from(repo, out, channel, insecure, list(move_from), info_path, dry_run)
        return
    ws = Workspace.load(WorkTree(repo))
    if no_descendants and not images:
        raise click.UsageError("--no-descendants goes with --images")
    if no_descendants:
        chosen = plan_images(ws, [t.strip() for t in (images or "").split(",") if t.strip()], with_descendants=False)
    else:
        chosen = Plan.from_file(plan_file) if plan_file else compute_plan(repo, since, all_images, images)
    earlier = _earlier_legs(ws, out, list(parents_from))
    engine = None
    if not dry_run:
        from lifecycle.build.engine import Engine
        engine = Engine()
    with RegistryPool(insecure) as pool:
        client = pool.get(ws.catalog.registry)
        report = run_publish(repo, chosen.tagbases, channel=channel, client=client, engine=engine, reporter=out,
                             pool=pool, refresh=refresh, no_cache=no_cache, push=not no_push, move=not no_move,
                             dry_run=dry_run, info_path=info_path, parents_from=earlier,
                             required_parents=[t.strip() for t in require_parents.split(",") if t.strip()])
    _print(out, report, channel, dry_run)
    named = {t.strip() for t in (images or "").split(",") if t.strip()}
    unbuildable = [r.tagbase for r in report.results
                   if r.tagbase in named and r.status == "skipped" and r.reason.startswith("needs a ")]
    if unbuildable:
        raise OperationError(f"named explicitly but this engine cannot build them: "
                             + ", ".join(f"{t} ({r.reason})" for t in unbuildable
                                         for r in report.results if r.tagbase == t))


def _print(out, report: PublishReport, channel: str, dry_run: bool) -> None:
    rows = [{"image": r.tagbase, "status": r.status, "digest": short_digest(r.digest), "tag": r.immutable_tag or "",
             "reason": r.reason[:120]} for r in report.results]
    out.table(rows, title=f"Publish to {channel} at {report.revision[:7]}" + (" (dry run)" if dry_run else ""),
              data={"channel": channel, "revision": report.revision,
                    "images": [r.__dict__ for r in report.results],
                    "indexes": [i.__dict__ for i in report.indexes]})
    for index in report.indexes:
        line = f"index {index.tag}: {index.status}" + (f" {short_digest(index.digest)}" if index.digest else "") \
            + (f" ({index.reason})" if index.reason else "")
        (out.error if index.status == "failed" else out.info)(line)
    if not report.ok:
        raise OperationError(f"failed: {', '.join(report.by_status('failed'))}; "
                             f"not published because a parent failed: {', '.join(report.by_status('blocked')) or 'none'}")


def _move_from(repo: Path, out, channel: str, insecure: tuple[str, ...], paths: list[Path],
               info_path: Path | None, dry_run: bool) -> None:
    ws = Workspace.load(WorkTree(repo))
    records = imageinfo.records_for(imageinfo.info_files(paths), ws.catalog.registry, ws.catalog.repository)
    revision = next((r.revision for r in records if r.revision), "")
    with RegistryPool(insecure) as pool:
        client = pool.get(ws.catalog.registry)
        moved = move_from_info(records, channel=channel, client=client, catalog=ws.catalog, dry_run=dry_run)
        indexes = publish_indexes(ws.catalog, client, channel,
                                  {r.tagbase for r in moved if r.status == "published"}, dry_run=dry_run)
        if not dry_run and indexes:  # the legs attached their images' records; the indexes are pushed here
            writer = publish_records.writer_for(ws, repo, client, revision, out)
            indexes = publish_records.attach_indexes(writer, ws, indexes)
    if info_path is not None and not dry_run:
        imageinfo.write(info_path, channel, ws.catalog.registry, ws.catalog.repository, moved)
    _print(out, PublishReport(channel, revision, moved, indexes), channel, dry_run)


def _earlier_legs(ws: Workspace, out, paths: list[Path]) -> list[imageinfo.ImageInfo]:
    """The records of earlier matrix legs (`--parents-from`); a folder that does not exist holds none (the
    first level has no earlier legs), a file that is not image-info for this repository is bad input."""
    present = [p for p in paths if p.exists()]
    for missing in sorted(set(paths) - set(present)):
        out.info(f"--parents-from {missing}: no such folder, no earlier legs")
    files = imageinfo.info_files(present) if any(p.is_file() or any(p.rglob("*.json")) for p in present) else []
    return imageinfo.records_for(files, ws.catalog.registry, ws.catalog.repository)
