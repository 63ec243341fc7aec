"""Publish's side of the supply-chain records: what each pushed image and index gets attached.

The package inventory is read from the local image while the image is tested and pushed (from the engine,
as the package check reads it); the records are attached after the push and before `<tagbase>-<channel>` moves, so a channel
tag never points at a digest publish left without records. When the inventory or the attach fails, the
image stays under its immutable tag only, and publish reports it failed.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from lifecycle.build.engine import Engine
from lifecycle.build.imageinfo import ImageInfo
from lifecycle.build.manifest_index import IndexOutcome
from lifecycle.catalogue.catalog import ImageSpec
from lifecycle.catalogue.workspace import Workspace
from lifecycle.errors import LifecycleError
from lifecycle.output import Reporter
from lifecycle.packages.inventory import Inventory, installed_packages
from lifecycle.registry.client import RegistryClient
from lifecycle.supplychain import provenance, sbom
from lifecycle.supplychain.records import UNSIGNED_WARNING, RecordWriter, policy_signer


def writer_for(ws: Workspace, root: Path, client: RegistryClient, revision: str, out: Reporter,
               env: dict[str, str] | None = None) -> RecordWriter:
    """The run's writer; the signer is loaded (and a bad key refused) before anything is built."""
    signer = policy_signer(ws.policy, root)
    if signer is None:
        out.warning(UNSIGNED_WARNING)
    repo = ws.catalog.repository  # the default; in_repository() for an image of another
    return RecordWriter(client, repo, f"{ws.catalog.registry}/{repo}", ws.catalog.source_url, revision, signer,
                        dict(os.environ if env is None else env))


@contextmanager
def inventory_beside(engine: Engine, target: str, *, wanted: bool = True) -> Iterator[Callable[[], Inventory]]:
    """The local image's package inventory, read in a thread while the caller tests and pushes the image: the
    listing container overlaps the test containers and the upload, which keeps the records' cost on a rebuild
    small (bench_records).
    Leaving the block waits for the listing, so no container outlives the publish of its image."""
    if not wanted:
        yield lambda: Inventory(note="no records")
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="inventory") as pool:
        future = pool.submit(inventory, engine, target)
        yield future.result


def inventory(engine: Engine, target: str) -> Inventory:
    return installed_packages(engine, target)


def attach_image(writer: RecordWriter, repository: str, image: ImageSpec, info: ImageInfo,
                 found: Inventory) -> dict:
    assert info.digest
    writer = writer.in_repository(repository)
    document = sbom.image_sbom(writer.subject_name, info.digest, found)
    passed = tuple(t["command"] for t in info.tests if t.get("passed"))
    return writer.attach_image(info.digest, info.definition, str(image.platform), info.bases, image.build_args,
                               passed, document).as_dict()


def attach_indexes(writer: RecordWriter, ws: Workspace, outcomes: list[IndexOutcome]) -> list[IndexOutcome]:
    """Records for every index publish pushed (moved or already in place); a failure fails that index."""
    return [_attach_index(writer, ws, o) if o.status in ("moved", "unchanged") and o.digest else o
            for o in outcomes]


def _attach_index(writer: RecordWriter, ws: Workspace, outcome: IndexOutcome) -> IndexOutcome:
    assert outcome.digest
    try:
        repository = outcome.repository or ws.catalog.repository
        shared = ws.catalog.shared_tag(outcome.tag.rsplit("-", 1)[0], repository)
        writer = writer.in_repository(repository)
        manifest = writer.client.manifest(writer.repo, outcome.digest)
        members = {_platform(d): d["digest"] for d in json.loads(manifest.raw).get("manifests") or []}
        definitions = {t: ws.definitions[t] for t in (shared.tagbases if shared else ()) if t in ws.definitions}
        records = writer.attach_index(outcome.digest, provenance.index_definition(definitions), members)
    except LifecycleError as exc:  # reported on the index, as its other failures are
        return replace(outcome, status="failed", reason=f"attaching its records failed: {exc}")
    return replace(outcome, records=records.as_dict())


def _platform(descriptor: dict) -> str:
    p = descriptor.get("platform") or {}
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)
