"""Build, test and publish images: push the immutable tag, then move `<tagbase>-<channel>`.

Order is the graph's. An in-repo parent is never pulled by name: it is the image built earlier in this run,
or the parent's digest on the run's channel. External bases are resolved to a digest first, pulled by that
digest, and the digest is recorded in the labels, so the image says exactly what it was built from.
An image is skipped when its channel tag already carries this definition, was built from the bases that are
current now, and is younger than the policy's max age. A failed build or test stops that image and its
descendants; independent images go on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lifecycle import imageinfo, labels as labels_mod
from lifecycle.catalog import ImageSpec
from lifecycle.engine import Engine
from lifecycle.errors import LifecycleError, OperationError
from lifecycle.imageinfo import ImageInfo
from lifecycle.output import Reporter, short_digest
from lifecycle.registries import RegistryPool
from lifecycle.registry import ImageConfig, NotFoundError, RegistryClient
from lifecycle.source import WorkTree, run_git
from lifecycle.workspace import Workspace

CHANNELS = ("staging", "latest")


@dataclass
class PublishReport:
    channel: str
    revision: str
    results: list[ImageInfo] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status not in ("failed", "blocked") for r in self.results)

    def by_status(self, status: str) -> list[str]:
        return [r.tagbase for r in self.results if r.status == status]


@dataclass
class _Bases:
    """What one image is built from: every image reference of every stage, resolved to digests."""

    digests: dict[str, str]           # reference as written -> digest
    local: dict[str, str]             # in-repo reference -> local image built in this run
    final_name: str
    final_digest: str


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
    built: dict[str, ImageInfo] = field(default_factory=dict)
    # one lookup per reference per run: many images share a base, and a parent's channel tag is read
    # for its own skip check and again for each child
    _digests: dict[str, str | None] = field(default_factory=dict)
    _configs: dict[str, ImageConfig | None] = field(default_factory=dict)  # channel tag -> config, read up front

    def _channel_digest(self, tagbase: str) -> str | None:
        key = f"{tagbase}-{self.channel}"
        if key not in self._digests:
            self._digests[key] = self.client.try_resolve(self.repo, key)
        return self._digests[key]

    def _external_digest(self, ref: str) -> str:
        if ref not in self._digests:
            self._digests[ref] = self.pool.resolve(ref)
        return self._digests[ref] or ""

    @property
    def repo(self) -> str:
        return self.ws.catalog.repository

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
        tags = [f"{t}-{self.channel}" for t in order]

        def read(tag: str) -> ImageConfig | None | LifecycleError:
            try:
                return self.client.config(self.repo, tag)
            except NotFoundError:
                return None
            except LifecycleError as exc:
                return exc

        for tag, found in zip(tags, self.client.map(read, tags)):
            if not isinstance(found, LifecycleError):
                self._configs[tag] = found

    def _one(self, image: ImageSpec) -> ImageInfo:
        definition = self.ws.definitions[image.tagbase]
        info = ImageInfo(image.tagbase, "planned", definition, self.revision)
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
                info.digest, info.channel_tag = skip[1], f"{image.tagbase}-{self.channel}"
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
            parent = self.ws.in_repo_tag(base.ref)
            if parent is not None:
                done = self.built.get(parent)
                if done and done.status in ("published", "pushed", "built"):
                    digests[base.ref] = done.digest or f"local:{done.immutable_tag}"
                    local[base.ref] = self.ws.catalog.reference(done.immutable_tag or "")
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
        return _Bases(digests, local, final.ref, final_digest)

    def _skip_reason(self, image: ImageSpec, definition: str, bases: _Bases) -> tuple[str, str] | None:
        tag = f"{image.tagbase}-{self.channel}"
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
            config = self.client.config(self.repo, digest)
        else:  # read the config by tag: its manifest GET tells the digest too, so no HEAD (2 requests)
            try:
                config = self.client.config(self.repo, tag)
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
        return f"{tag} already has this definition and current bases", digest

    # -- build, test, push -----------------------------------------------------------------------

    def _build_test_push(self, image: ImageSpec, definition: str, bases: _Bases, info: ImageInfo) -> None:
        if self.engine is None:
            raise OperationError("no container engine: set DOCKER_HOST or run eng/local-env.sh up")
        created = self.now()
        immutable = image.immutable_tag(created, self.revision or "0000000")
        target = self.ws.catalog.reference(immutable)
        self._prepare_bases(bases)
        labels = labels_mod.make_labels(
            policy=self.ws.policy, revision=self.revision, created=created, source=self.ws.catalog.source_url,
            definition=definition, base_name=bases.final_name, base_digest=bases.final_digest, bases=bases.digests)
        with self.out.group(f"build {image.tagbase}"):
            self.engine.build(self.root / image.folder, dockerfile="Dockerfile", tag=target,
                              build_args=image.build_args, labels=labels, platform=str(image.platform),
                              no_cache=self.no_cache, log=self.build_log or self.out.info)
        info.created = labels_mod.rfc3339(created)
        with self.out.group(f"test {image.tagbase}"):
            for command in image.tests:
                result = self.engine.run_test(target, command)
                info.tests.append({"command": command, "exit_code": result.exit_code, "passed": result.passed})
                if not result.passed:
                    self.out.info(result.output)
                    raise OperationError(f"test {command!r} exited {result.exit_code}: "
                                         f"{result.output.strip()[-500:]}")
        if not self.push:
            info.status, info.immutable_tag, info.reason = "built", immutable, "built and tested, not pushed"
            return
        self.engine.push(target)
        # the registry's digest is the truth (an engine may report another encoding's digest)
        info.digest = self.client.resolve(self.repo, immutable)
        info.immutable_tag = immutable
        if not self.move:
            info.status, info.reason = "pushed", f"{image.tagbase}-{self.channel} left for the final job"
            return
        channel_tag = f"{image.tagbase}-{self.channel}"
        moved = self.client.retag(self.repo, info.digest, channel_tag)
        if moved.status == "failed":  # retag reports a refused PUT instead of raising
            info.immutable_tag = immutable
            raise OperationError(f"{immutable} pushed, but moving {channel_tag} failed: {moved.error}")
        info.channel_tag, info.status = channel_tag, "published"

    def _prepare_bases(self, bases: _Bases) -> None:
        """Make every base reference name exactly the image chosen for it, without the builder pulling."""
        assert self.engine is not None
        for ref, digest in bases.digests.items():
            if ref in bases.local:
                self.engine.tag(bases.local[ref], _tagged(ref))
                continue
            name = ref.split("@")[0].rsplit(":", 1)[0] if _has_tag(ref) else ref.split("@")[0]
            pinned = f"{name}@{digest}"
            if self.engine.image_id(pinned) is None:
                self.engine.pull(pinned)
            self.engine.tag(pinned, _tagged(ref))


def _has_tag(ref: str) -> bool:
    last = ref.split("@")[0].rsplit("/", 1)[-1]
    return ":" in last


def _tagged(ref: str) -> str:
    """The local name the builder will look up for a FROM reference (no tag means :latest)."""
    ref = ref.split("@")[0]
    return ref if _has_tag(ref) else f"{ref}:latest"


def head_revision(root: Path) -> str:
    return run_git(root, "rev-parse", "HEAD").decode().strip()


def publish(root: Path, tagbases: list[str] | None, *, channel: str, client: RegistryClient,
            engine: Engine | None, reporter: Reporter, pool: RegistryPool | None = None, refresh: bool = False,
            no_cache: bool = False, push: bool = True, move: bool = True, dry_run: bool = False,
            info_path: Path | None = None, now: Callable[[], dt.datetime] | None = None,
            build_log: Callable[[str], None] | None = None) -> PublishReport:
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
        if now is not None:
            publisher.now = now
        publisher.build_log = build_log
        report = publisher.run(tagbases)
    finally:
        if own_pool:
            for host, c in list(pool.clients.items()):
                if c is not client:
                    c.close()
    if info_path is not None and not dry_run:
        imageinfo.write(info_path, channel, ws.catalog.registry, ws.catalog.repository, report.results)
    return report


def move_from_info(records: list[ImageInfo], *, channel: str, client: RegistryClient, repository: str,
                   dry_run: bool = False) -> list[ImageInfo]:
    """The final job of a matrix publish: move `<tagbase>-<channel>` to what the legs pushed and tested.

    Only images a leg reports as pushed (tests passed) move; the retags are one batch, planned first.
    """
    pushed = [r for r in records if r.status in ("pushed", "published") and r.digest]
    pairs = [(r.digest, f"{r.tagbase}-{channel}") for r in pushed]
    results = {res.tag: res for res in client.retag_many(repository, pairs, dry_run=dry_run)}
    for record in pushed:
        tag = f"{record.tagbase}-{channel}"
        outcome = results.get(tag)
        if outcome is not None and outcome.status != "failed":
            record.status, record.channel_tag, record.reason = "published", tag, f"{tag} {outcome.status}"
        else:
            record.status = "failed"
            record.reason = f"moving {tag} failed: {getattr(outcome, 'error', '') or 'unknown'}"
    return records
