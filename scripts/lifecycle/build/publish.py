"""Build, test and publish images: push the immutable tag, then move `<tagbase>-<channel>`.

Order is the graph's. An in-repo parent is never pulled by name: it is the image built earlier in this run,
or the parent's digest on the run's channel. External bases are resolved to a digest first, pulled by that
digest, and the digest is recorded in the labels, so the image says exactly what it was built from. The build
gets a copy of the Dockerfile whose every FROM / COPY --from names the local image id of exactly that image
(lifecycle.build.pinning), and before anything is pushed the image's layers must begin with its base's
(lifecycle.build.lineage).
An image is skipped when its channel tag already carries this definition, was built from the bases that are
current now, and is younger than the policy's max age. A failed build or test stops that image and its
descendants; independent images go on.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from lifecycle.build import imageinfo

from lifecycle.build import labels as labels_mod

from lifecycle.build import lineage

from lifecycle.build import osupgrade

from lifecycle.build import pinning
from lifecycle.build import publish_records
from lifecycle.catalogue.catalog import ImageSpec
from lifecycle.catalogue.repositories import tag_in
from lifecycle.catalogue.dockerfile import Dockerfile
from lifecycle.build.engine import Engine, LocalImage
from lifecycle.errors import LifecycleError, OperationError
from lifecycle.build.imageinfo import ImageInfo
from lifecycle.build.manifest_index import IndexOutcome, publish_indexes
from lifecycle.output import Reporter, short_digest
from lifecycle.packages import check_image
from lifecycle.packages.inventory import Inventory
from lifecycle.packages.rules import left_after_upgrade
from lifecycle.catalogue.platform import Platform
from lifecycle.registry.pool import RegistryPool
from lifecycle.registry import ImageConfig, NotFoundError, RegistryClient, parse_reference
from lifecycle.catalogue.source import WorkTree, run_git
from lifecycle.catalogue.workspace import Workspace
from lifecycle.supplychain.records import RecordWriter

CHANNELS = ("staging", "latest")


@dataclass
class PublishReport:
    channel: str
    revision: str
    results: list[ImageInfo] = field(default_factory=list)
    indexes: list[IndexOutcome] = field(default_factory=list)  # multi-platform shared tags moved after

    @property
    def ok(self) -> bool:
        return all(r.status not in ("failed", "blocked") for r in self.results) and \
            all(i.status != "failed" for i in self.indexes)

    def by_status(self, status: str) -> list[str]:
        return [r.tagbase for r in self.results if r.status == status]


@dataclass
class _Bases:
    """What one image is built from: every image reference of every stage, resolved to digests."""

    digests: dict[str, str]           # reference as written -> digest
    local: dict[str, str]             # in-repo reference -> id of the local image built in this run
    final_name: str
    final_digest: str
    platforms: dict[str, Platform] = field(default_factory=dict)  # reference -> platform it is used for
    final_is_image: bool = False


@dataclass
class Publisher:
    ws: Workspace
    root: Path
    channel: str
    client: RegistryClient
    pool: RegistryPool
    engine: Engine | None
    out: Reporter
    refresh: bool = False
    no_cache: bool = False
    push: bool = True
    move: bool = True
    dry_run: bool = False
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
    build_log: Callable[[str], None] | None = None
    revision: str = ""
    records: RecordWriter | None = None   # provenance and SBOM for each pushed digest (None: no push)
    built: dict[str, ImageInfo] = field(default_factory=dict)
    # tag base -> id of the local image this run built (what a child's FROM is pinned to)
    local_ids: dict[str, str] = field(default_factory=dict)
    # one lookup per reference per run: many images share a base, and a parent's channel tag is read
    # for its own skip check and again for each child
    _digests: dict[str, str | None] = field(default_factory=dict)
    _engine_os: str | None = None
    _configs: dict[str, ImageConfig | None] = field(default_factory=dict)  # channel tag -> config, read up front
    _remote: dict[tuple[str, str], lineage.RemoteImage] = field(default_factory=dict)

    def engine_os(self) -> str:
        """The OS the engine builds for; a dry run without an engine assumes Linux, as the local engine is."""
        if self._engine_os is None:
            version = getattr(self.engine, "version", None)
            self._engine_os = str((version() if version else {}).get("Os") or "linux").lower()
        return self._engine_os

    def _channel_digest(self, tagbase: str) -> str | None:
        key = f"{tagbase}-{self.channel}"   # a cache key: the catalogue name, unique across repositories
        if key not in self._digests:
            self._digests[key] = self.client.try_resolve(*tag_in(self.ws.catalog, tagbase, self.channel))
        return self._digests[key]

    def _external_digest(self, ref: str) -> str:
        if ref not in self._digests:
            self._digests[ref] = self.pool.resolve(ref)
        return self._digests[ref] or ""

    def repo_of(self, image: ImageSpec) -> str:
        """The registry repository every tag of `image` is pushed to and read from."""
        return self.ws.catalog.repository_of(image)

    def run(self, tagbases: list[str] | None) -> PublishReport:
        report = PublishReport(self.channel, self.revision)
        order = self.ws.order(tagbases)
        if not self.refresh:
            self._prefetch(order)
        for tagbase in self.out.progress(order, f"publishing {len(order)} images"):
            info = self._one(self.ws.image(tagbase))
            report.results.append(info)
            self.built[tagbase] = info
            self.out.info(f"{tagbase}: {info.status}" + (f" {short_digest(info.digest)}" if info.digest else "")
                          + (f" ({info.reason})" if info.reason else ""))
        return report

    def _prefetch(self, order: list[str]) -> None:
        """Read every channel tag's config up front, concurrently on the client's pool: the same two requests
        per image the skip checks would send one after another (a no-op run of 250 images in seconds). What
        cannot be read here is read again, and reported, by the image's own skip check."""
        tags = [f"{t}-{self.channel}" for t in order]   # cache keys, as in _channel_digest

        def read(name: str) -> ImageConfig | None | LifecycleError:
            try:
                return self.client.config(*tag_in(self.ws.catalog, name, self.channel))
            except NotFoundError:
                return None
            except LifecycleError as exc:
                return exc

        for tag, found in zip(tags, self.client.map(read, order)):
            if not isinstance(found, LifecycleError):
                self._configs[tag] = found

    def _one(self, image: ImageSpec) -> ImageInfo:
        definition = self.ws.definitions[image.tagbase]
        info = ImageInfo(image.tagbase, "planned", definition, self.revision)
        if image.platform.os != self.engine_os():
            # a Linux engine cannot build a Windows image (nor the reverse): its legs run elsewhere
            info.status, info.reason = "skipped", f"needs a {image.platform.os.capitalize()} engine"
            return info
        broken = [p for p in self.ws.parents_of(image.tagbase)
                  if self.built.get(p) and self.built[p].status in ("failed", "blocked")]
        if broken:
            info.status, info.reason = "blocked", f"parent {', '.join(broken)} did not publish"
            return info
        try:
            bases = self._resolve_bases(image)
            info.base_name, info.base_digest, info.bases = bases.final_name, bases.final_digest, bases.digests
            skip = None if self.refresh else self._skip_reason(image, definition, bases)
            if skip:
                info.status, info.reason = "skipped", skip[0]
                info.digest, info.channel_tag = skip[1], f"{image.tag}-{self.channel}"
                return info
            if self.dry_run:
                info.reason = "would build, test and push" if self.push else "would build and test"
                return info
            self._build_test_push(image, definition, bases, info)
        except LifecycleError as exc:
            info.status, info.reason = "failed", str(exc)
            self.out.error(f"{image.tagbase}: {exc}")
        return info

    # -- bases -----------------------------------------------------------------------------------

    def _resolve_bases(self, image: ImageSpec) -> _Bases:
        digests: dict[str, str] = {}
        local: dict[str, str] = {}
        for base in self.ws.base_refs(image.tagbase):
            if base.ref in digests:
                continue
            parent = self.ws.parent_of(image.tagbase, base.ref)
            if parent is not None:
                done = self.built.get(parent)
                if done and done.status in ("published", "pushed", "built"):
                    if parent in self.local_ids:  # built by this process: that very image
                        digests[base.ref] = done.digest or f"local:{done.immutable_tag}"
                        local[base.ref] = self.local_ids[parent]
                        continue
                    if done.digest:  # pushed by an earlier job of this run (a record seeded into `built`)
                        digests[base.ref] = done.digest
                        continue
                found = self._channel_digest(parent)
                if not found:
                    raise OperationError(f"in-repo parent {parent} has no {parent}-{self.channel} image "
                                         f"and is not built in this run")
                digests[base.ref] = found
            else:
                digests[base.ref] = self._external_digest(base.ref)
        final = self.ws.dockerfiles[image.tagbase].final_base
        final_digest = digests.get(final.ref, "") if final.is_image else ""
        return _Bases(digests, local, final.ref, final_digest, _platforms(self.ws.dockerfiles[image.tagbase], image),
                      final.is_image)

    def _skip_reason(self, image: ImageSpec, definition: str, bases: _Bases) -> tuple[str, str] | None:
        tag = f"{image.tagbase}-{self.channel}"   # the cache key
        pushed_tag = f"{image.tag}-{self.channel}"
        if tag in self._configs and tag not in self._digests:  # read by _prefetch
            config = self._configs[tag]
            self._digests[tag] = config.digest if config is not None else None
            if config is None:
                return None
            digest = config.digest
        elif tag in self._digests:
            digest = self._digests[tag]
            if digest is None:
                return None
            config = self.client.config(self.repo_of(image), digest)
        else:  # read the config by tag: its manifest GET tells the digest too, so no HEAD (2 requests)
            try:
                config = self.client.config(self.repo_of(image), pushed_tag)
            except NotFoundError:
                self._digests[tag] = None
                return None
            digest = self._digests[tag] = config.digest
        current = labels_mod.ImageLabels.read(config.labels, self.ws.policy)
        if current.definition != definition:
            return None
        if any(current.bases.get(ref) != d for ref, d in bases.digests.items()):
            return None
        if current.created is None or self.now() - current.created > dt.timedelta(days=self.ws.policy.max_age_days):
            return None
        if osupgrade.wanted(image, self.ws.policy) and osupgrade.needs_rebuild(config.labels, self.ws.policy, self.now()):
            return None
        # the catalogue name of the tag: as before in the default repository, <repository>:<tag> elsewhere
        where = self.ws.catalog.qualified(self.repo_of(image), pushed_tag)
        return f"{where} already has this definition and current bases", digest

    # -- build, test, push -----------------------------------------------------------------------

    def _build_test_push(self, image: ImageSpec, definition: str, bases: _Bases, info: ImageInfo) -> None:
        if self.engine is None:
            raise OperationError("no container engine: set DOCKER_HOST or run eng/local-env.sh up")
        try:
            self._attempt(image, definition, bases, info, self.no_cache)
        except lineage.PlatformError as exc:
            if self.no_cache:
                raise
            # podman's build cache ignores the platform: identical steps on the same base (FROM scratch) come
            # back as the image cached for another platform, or with its variant. Without the cache it is right.
            self.out.info(f"{image.tagbase}: {exc}; building again without the build cache")
            info.tests = []
            self._attempt(image, definition, bases, info, True)

    def _attempt(self, image: ImageSpec, definition: str, bases: _Bases, info: ImageInfo, no_cache: bool) -> None:
        assert self.engine is not None
        created = self.now()
        immutable = image.immutable_tag(created, self.revision or "0000000")
        target = self.ws.catalog.reference_of(image, immutable)
        labels = labels_mod.make_labels(
            policy=self.ws.policy, revision=self.revision, created=created, source=self.ws.catalog.source_url,
            definition=definition, base_name=bases.final_name, base_digest=bases.final_digest, bases=bases.digests)
        log = self.build_log or self.out.info
        with self.out.group(f"build {image.tagbase}"):
            pins = self._prepare_bases(bases)
            for ref, image_id in pins.items():
                log(f"[lifecycle] {ref} = {bases.digests[ref]} -> local image {image_id}")
            source = self.ws.source.read(image.dockerfile)
            if source is None:
                raise OperationError(f"{image.dockerfile}: not found in the working tree")
            text = pinning.pin(source.decode("utf-8", "replace"), self.ws.dockerfiles[image.tagbase], pins)
            extra: dict[str, str] = {}
            if osupgrade.wanted(image, self.ws.policy):  # the distribution's upgrade step, after the Dockerfile
                text = osupgrade.upgraded_dockerfile(text, created)
                extra = osupgrade.upgrade_label(self.ws.policy, created)
            with tempfile.TemporaryDirectory(prefix="lifecycle-build-") as tmp:
                # outside the context: the folder in git is built as it is; only the FROM lines (and an
                # osUpgrade image's last step) differ from the Dockerfile in git
                dockerfile = Path(tmp) / "Dockerfile"
                dockerfile.write_text(text, encoding="utf-8")
                image_id = self.engine.build(self.root / image.folder, dockerfile=str(dockerfile), tag=target,
                                             build_args=image.build_args, labels={**labels, **extra},
                                             platform=str(image.platform), no_cache=no_cache, log=log)
        info.created = labels_mod.rfc3339(created)
        self._verify(image, bases, self.engine.inspect(image_id))
        # the inventory's listing container runs beside the tests and the push
        with publish_records.inventory_beside(self.engine, target, wanted=bool(self.records and self.push)) \
                as packages:
            self._test_check_push(image, target, immutable, image_id, info, packages)
        if not self.push:
            return
        if not self.move:
            info.status, info.reason = "pushed", f"{image.tagbase}-{self.channel} left for the final job"
            return
        channel_tag = f"{image.tag}-{self.channel}"
        moved = self.client.retag(self.repo_of(image), info.digest, channel_tag)
        if moved.status == "failed":  # retag reports a refused PUT instead of raising
            info.immutable_tag = immutable
            raise OperationError(f"{immutable} pushed, but moving {channel_tag} failed: {moved.error}")
        info.channel_tag, info.status = channel_tag, "published"

    def _test_check_push(self, image: ImageSpec, target: str, immutable: str, image_id: str, info: ImageInfo,
                         packages: Callable[[], Inventory]) -> None:
        """Tests, the package check of an upgraded image, then the push and the records; nothing is pushed
        when a test or the check fails."""
        assert self.engine is not None
        with self.out.group(f"test {image.tagbase}"):
            for command in image.tests:
                result = self.engine.run_test(target, command)
                info.tests.append({"command": command, "exit_code": result.exit_code, "passed": result.passed})
                if not result.passed:
                    self.out.info(result.output)
                    raise OperationError(f"test {command!r} exited {result.exit_code}: "
                                         f"{result.output.strip()[-500:]}")
        if osupgrade.wanted(image, self.ws.policy):
            self._check_upgraded(image, target)
        if not self.push:
            self.local_ids[image.tagbase] = image_id
            info.status, info.immutable_tag, info.reason = "built", immutable, "built and tested, not pushed"
            return
        self.engine.push(target)
        # the registry's digest is the truth (an engine may report another encoding's digest)
        info.digest = self.client.resolve(self.repo_of(image), immutable)
        info.immutable_tag = immutable
        self._verify_pushed(image, info.digest, immutable)
        self.local_ids[image.tagbase] = image_id
        if self.records:  # before the channel tag: it never names a digest without its records
            info.records = publish_records.attach_image(self.records, self.repo_of(image), image, info, packages())

    def _check_upgraded(self, image: ImageSpec, target: str) -> None:
        """The package check inside the image just built with the upgrade step, before anything is pushed."""
        assert self.engine is not None
        with self.out.group(f"package check {image.tagbase}"):
            found = check_image(self.engine, target)
            self.out.info(found.summary())
        problem = left_after_upgrade(found)
        if problem:
            raise OperationError(f"{problem}; nothing pushed")

    def _prepare_bases(self, bases: _Bases) -> dict[str, str]:
        """The local image id of exactly the image chosen for every base reference, pulled by digest if absent."""
        assert self.engine is not None
        pins: dict[str, str] = {}
        for ref, digest in bases.digests.items():
            if ref in bases.local:
                pins[ref] = bases.local[ref]
                continue
            platform = bases.platforms.get(ref)
            remote = self._remote_image(ref, digest, platform)
            parsed = parse_reference(ref)
            # the platform's own manifest, not an index: the local image is then exactly that manifest
            pinned = f"{parsed.registry}/{parsed.repository}@{remote.manifest_digest}"
            image_id = self.engine.image_id(pinned)
            if image_id is None:
                self.engine.pull(pinned, platform=str(platform) if platform else None)
                image_id = self.engine.image_id(pinned)
            if image_id is None:
                raise OperationError(f"pulled {pinned} for {ref}, but the engine does not find it by that name")
            pins[ref] = image_id
        return pins

    def _remote_image(self, ref: str, digest: str, platform: Platform | None) -> lineage.RemoteImage:
        key = (digest, str(platform))
        if key not in self._remote:
            parsed = parse_reference(ref)
            self._remote[key] = lineage.remote_image(self.pool.get(parsed.registry), parsed.repository, digest,
                                                     platform)
        return self._remote[key]

    # -- verification before and after the push --------------------------------------------------

    def _verify(self, image: ImageSpec, bases: _Bases, built: LocalImage) -> None:
        """Platform and lineage of the built image, before its tests and before anything is pushed."""
        lineage.check_platform(image.tagbase, image.platform, built.os, built.architecture, built.variant,
                               "local engine")
        if not bases.final_is_image:
            return  # FROM scratch: no base to descend from
        ref, digest = bases.final_name, bases.final_digest
        if ref in bases.local:
            parent = self.ws.parent_of(image.tagbase, ref)   # a catalogue name, in whichever repository
            done = self.built.get(parent or "")
            if done is not None and done.digest:
                base_layers = self._remote_image(ref, done.digest, bases.platforms.get(ref)).diff_ids
            else:
                assert self.engine is not None
                base_layers = self.engine.inspect(bases.local[ref]).layers
        else:
            base_layers = self._remote_image(ref, digest, bases.platforms.get(ref)).diff_ids
        lineage.verify(lineage.Lineage(image.tagbase, ref, digest, built.labels.get(labels_mod.BASE_DIGEST),
                                       tuple(base_layers), built.layers))

    def _verify_pushed(self, image: ImageSpec, digest: str, immutable: str) -> None:
        """The registry's config of what was pushed must be for the catalogue's platform (variant included,
        which podman's inspect does not report); if not, the pushed manifest is removed again."""
        pushed = self._remote_image(self.ws.catalog.reference_of(image, immutable), digest, image.platform)
        found = pushed.platform or Platform("", "")
        try:
            lineage.check_platform(image.tagbase, image.platform, found.os, found.architecture,
                                   found.variant or "", "registry")
        except OperationError:
            try:
                self.client.delete(self.repo_of(image), digest)
            except LifecycleError as exc:
                self.out.error(f"{image.tagbase}: could not remove {immutable} again: {exc}")
            raise


def _platforms(dockerfile: Dockerfile, image: ImageSpec) -> dict[str, Platform]:
    """The platform each base reference is used for: its stage's `--platform`, when that is concrete, else the
    image's (a COPY --from image is read for the image's platform)."""
    platforms: dict[str, Platform] = {}
    for stage in dockerfile.stages:
        platform = image.platform
        if stage.platform and "$" not in stage.platform:
            try:
                platform = Platform.parse(stage.platform)
            except ValueError:
                pass
        if stage.base.is_image:
            platforms.setdefault(stage.base.ref, platform)
        for copy in stage.copies_from:
            if copy.is_image:
                platforms.setdefault(copy.ref, image.platform)
    return platforms


def head_revision(root: Path) -> str:
    return run_git(root, "rev-parse", "HEAD").decode().strip()


def publish(root: Path, tagbases: list[str] | None, *, channel: str, client: RegistryClient,
            engine: Engine | None, reporter: Reporter, pool: RegistryPool | None = None, refresh: bool = False,
            no_cache: bool = False, push: bool = True, move: bool = True, dry_run: bool = False,
            info_path: Path | None = None, now: Callable[[], dt.datetime] | None = None,
            build_log: Callable[[str], None] | None = None,
            parents_from: list[ImageInfo] | None = None, required_parents: list[str] | None = None) -> PublishReport:
    """Build, test and publish `tagbases` (None: all) from the working tree at `root`, in dependency order."""
    if channel not in CHANNELS:
        raise OperationError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
    ws = Workspace.load(WorkTree(root))
    own_pool = pool is None
    pool = pool or RegistryPool()
    pool.add(client)
    try:
        publisher = Publisher(ws, root, channel, client, pool, engine, reporter, refresh=refresh,
                              no_cache=no_cache, push=push, move=move, dry_run=dry_run,
                              revision=head_revision(root))
        if push and not dry_run:
            publisher.records = publish_records.writer_for(ws, root, client, publisher.revision, reporter)
        if now is not None:
            publisher.now = now
        publisher.build_log = build_log
        use_earlier_legs(publisher, parents_from or [], required_parents or [])
        report = publisher.run(tagbases)
        if move:
            moved = {r.tagbase for r in report.results if r.status in ("published", "skipped") and r.digest}
            report.indexes = publish_indexes(ws.catalog, client, channel, moved, dry_run=dry_run)
            if publisher.records:
                report.indexes = publish_records.attach_indexes(publisher.records, ws, report.indexes)
    finally:
        if own_pool:
            for host, c in list(pool.clients.items()):
                if c is not client:
                    c.close()
    if info_path is not None and not dry_run:
        imageinfo.write(info_path, channel, ws.catalog.registry, ws.catalog.repository, report.results)
    return report


def use_earlier_legs(publisher: Publisher, records: list[ImageInfo], required: Iterable[str] = ()) -> None:
    """A matrix leg after the first level: its in-repo parents were built by earlier legs of this run.

    A parent an earlier leg pushed is taken by the digest that leg recorded (pulled by digest, never looked
    up by a tag); one that failed or was blocked there blocks its children here. A `required` parent with no
    usable record (its leg died before writing image-info, or did not push) blocks them too: the channel's
    digest would be the parent this run meant to replace. Any other parent with no record is taken from the
    channel, as for any parent this run does not build.
    """
    recorded = set()
    for record in records:
        if record.status in ("failed", "blocked"):
            publisher.built[record.tagbase] = record
            recorded.add(record.tagbase)
        elif record.status in ("pushed", "published", "skipped") and record.digest:
            publisher._digests[f"{record.tagbase}-{publisher.channel}"] = record.digest
            recorded.add(record.tagbase)
    for parent in required:
        if parent not in recorded:
            publisher.built[parent] = ImageInfo(parent, "blocked", "", "", reason="no image-info from its leg")
