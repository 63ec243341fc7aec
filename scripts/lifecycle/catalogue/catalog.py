"""The desired state: the image catalogue (manifests/images.yml); the policy is in policy.py.

Loading checks each file against its JSON Schema (scripts/lifecycle/schemas/) and reports every problem
with file:line:column; the cross-file rules (tag bases, Dockerfiles, bases, cycles) are in validation.py.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from lifecycle import yamlio
from lifecycle.errors import InputError, Location
from lifecycle.catalogue.platform import Platform
from lifecycle.catalogue.schema import check_schema, parse_date, validator

CATALOG_PATH = "manifests/images.yml"
# OCI distribution spec: a tag is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
# <tagbase>-<yyyyMMddHHmmss>-<short sha>
IMMUTABLE_SUFFIX_RE = re.compile(r"-(\d{14})-([0-9a-f]{7,40})$")


def qualified(repository: str, tag: str, default: str) -> str:
    """A catalogue-wide name for a tag of one repository: the tag itself in the catalogue's default
    repository, `<repository>:<tag>` in any other (tags are unique per repository only)."""
    return tag if not repository or repository == default else f"{repository}:{tag}"


@dataclass(frozen=True)
class ImageSpec:
    # the image's name in the catalogue (graph, plans, --images, waivers): its tag base, qualified as
    # <repository>:<tag base> outside the catalogue's default repository. `tag` is the tag base as pushed.
    tagbase: str
    folder: str
    platform: Platform
    build_args: dict[str, str] = field(default_factory=dict)
    tests: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    eol: dt.date | None = None
    shared_tags: tuple[str, ...] = ()  # one-platform shared tags: further names retagged to this image's digest
    line: int | None = None
    dockerfile_name: str = "Dockerfile"  # the file inside `folder` (the build context) to build
    index_tags: tuple[str, ...] = ()     # multi-platform shared tags: pushed as an OCI index over the members
    os_upgrade: bool | None = None   # None: the policy's osUpgrade default. Not a definition input.
    repository: str = ""             # registry repository; "" (hand-built specs): the catalogue's

    @property
    def tag(self) -> str:
        """The tag base as pushed in the image's own repository (a tag never contains ':')."""
        return self.tagbase.rpartition(":")[2]

    @property
    def dockerfile(self) -> str:
        return f"{self.folder}/{self.dockerfile_name}"

    @property
    def os_version(self) -> str | None:
        """e.g. ltsc2022 for Windows: which hosts can build and run it."""
        return self.platform.os_version

    def matches(self, other: "ImageSpec") -> bool:
        """Same platform (and os version when both say one): a shared tag resolves to this member."""
        if self.platform != other.platform:
            return False
        # a Windows container runs only on its own OS version; Linux os versions (jammy...) do not matter
        return self.platform.os != "windows" or self.os_version is None or other.os_version is None \
            or self.os_version == other.os_version

    def staging_tag(self) -> str:
        return f"{self.tag}-staging"

    def latest_tag(self) -> str:
        return f"{self.tag}-latest"

    def immutable_tag(self, built_at: dt.datetime, revision: str) -> str:
        return f"{self.tag}-{built_at.astimezone(dt.timezone.utc):%Y%m%d%H%M%S}-{revision[:7]}"

    def is_immutable_tag(self, tag: str) -> bool:
        return tag.startswith(self.tag + "-") and bool(IMMUTABLE_SUFFIX_RE.fullmatch(tag[len(self.tag):]))

    def past_eol(self, today: dt.date) -> bool:
        return self.eol is not None and self.eol < today

    def __hash__(self) -> int:
        return hash(self.tagbase)


def split_immutable_tag(tag: str) -> tuple[str, dt.datetime, str] | None:
    """'<tagbase>-<yyyyMMddHHmmss>-<sha>' -> (tagbase, built_at UTC, sha), or None for any other tag."""
    m = IMMUTABLE_SUFFIX_RE.search(tag)
    if not m or m.start() == 0:
        return None
    built = dt.datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=dt.timezone.utc)
    return tag[: m.start()], built, m.group(2)


@dataclass(frozen=True)
class SharedTag:
    """A further name for one logical image: one member (retag) or one per platform (an OCI image index)."""

    tag: str
    tagbases: tuple[str, ...]
    line: int | None = None
    repository: str = ""   # the members' repository; "": the catalogue's

    @property
    def is_index(self) -> bool:
        return len(self.tagbases) > 1

    def channel_tag(self, channel: str) -> str:
        return f"{self.tag}-{channel}"


@dataclass(frozen=True)
class Exclusion:
    """A Dockerfile under src/ the catalogue deliberately does not build, and why."""

    dockerfile: str
    reason: str
    line: int | None = None


@dataclass(frozen=True)
class Catalog:
    registry: str
    repository: str
    images: tuple[ImageSpec, ...]
    source_url: str = ""
    path: str = CATALOG_PATH
    aliases: tuple[str, ...] = ()          # other names of our repository (public mirror...), registry/repo
    shared: tuple[SharedTag, ...] = ()     # every shared tag, one- and multi-platform
    excluded: tuple[Exclusion, ...] = ()   # Dockerfiles under src/ not built, with the reason

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def names(self) -> tuple[str, ...]:
        """Every name our repository is reached by: where we push first, then the aliases."""
        return (self.name, *(a for a in self.aliases if a != self.name))

    @cached_property
    def repositories(self) -> tuple[str, ...]:
        """Every registry repository the catalogue publishes to, the default first."""
        return tuple(dict.fromkeys([self.repository, *(i.repository or self.repository for i in self.images)]))

    @cached_property
    def repository_names(self) -> dict[str, str]:
        """registry/repository name -> our repository it reaches: each repository in our registry, and each
        alias (another name, e.g. the public mirror) to the repository with the same path, else the default."""
        names = {f"{self.registry}/{r}": r for r in self.repositories}
        for alias in self.aliases:
            path = alias.partition("/")[2]
            names.setdefault(alias, path if path in self.repositories else self.repository)
        return names

    def repository_of(self, image: ImageSpec) -> str:
        return image.repository or self.repository

    def reference_of(self, image: ImageSpec, tag: str) -> str:
        """registry/<the image's repository>:tag: where every tag of `image` lives."""
        return f"{self.registry}/{self.repository_of(image)}:{tag}"

    def qualified(self, repository: str, tag: str) -> str:
        return qualified(repository, tag, self.repository)

    @cached_property
    def _shared_by_tag(self) -> dict[tuple[str, str], SharedTag]:
        return {(s.repository or self.repository, s.tag): s for s in self.shared}

    def shared_tag(self, tag: str, repository: str | None = None) -> SharedTag | None:
        return self._shared_by_tag.get((repository or self.repository, tag))

    @property
    def index_tags(self) -> list[SharedTag]:
        return [s for s in self.shared if s.is_index]

    def resolve_tag(self, tag: str, child: ImageSpec | None = None, repository: str | None = None) -> str | None:
        """The image a tag of one of our repositories (default: the catalogue's) names: a tag base itself,
        or the member of a shared tag with `child`'s platform. None: no catalogued image (or none for that
        platform)."""
        repository = repository or self.repository
        name = self.qualified(repository, tag)
        if name in self._by_tagbase:
            return name
        shared = self._shared_by_tag.get((repository, tag))
        if shared is None:
            return None
        if child is None:
            return shared.tagbases[0]
        return next((t for t in shared.tagbases if self._by_tagbase[t].matches(child)), None)

    def reference(self, tag: str) -> str:
        return f"{self.registry}/{self.repository}:{tag}"

    @cached_property
    def _by_tagbase(self) -> dict[str, ImageSpec]:
        index: dict[str, ImageSpec] = {}
        for image in self.images:
            index.setdefault(image.tagbase, image)  # the first wins, as a linear search would
        return index

    def image(self, tagbase: str) -> ImageSpec:
        image = self._by_tagbase.get(tagbase)
        if image is None:
            # outside the default repository an image's catalogue name is <repository>:<tag base>
            named = [i.tagbase for i in self.images if i.tag == tagbase]
            hint = f" (did you mean {' or '.join(named)}?)" if named else ""
            raise InputError(f"no image with tag base {tagbase!r} in the catalogue{hint}", Location(self.path))
        return image

    def get(self, tagbase: str) -> ImageSpec | None:
        return self._by_tagbase.get(tagbase)

    @property
    def tagbases(self) -> list[str]:
        return [i.tagbase for i in self.images]


def parse_catalog(text: str, filename: str = CATALOG_PATH) -> Catalog:
    fast = yamlio.load_fast(text)
    if fast is not None and isinstance(fast[0], dict) and \
            not any(validator("images").iter_errors(fast[0])):
        plain, nodes = fast
        return _build_catalog(plain, filename, lambda path: yamlio.fast_line(nodes, path), nodes)
    # the slow path parses with positions: it names file:line:column for every problem
    document = yamlio.load_text(text, filename)
    if document is None:
        raise InputError("empty file", Location(filename))
    plain = yamlio.to_plain(document)
    check_schema(document, plain, "images", filename)
    return _build_catalog(plain, filename, lambda path: yamlio.position(document, path)[0], document)


def split_dockerfile(value: str) -> tuple[str, str]:
    """`dockerfile:` names a folder (its Dockerfile is built) or a file: (context folder, file name).
    A trailing slash or a leading ./ names the same folder."""
    path = value.strip().removeprefix("./").rstrip("/")
    head, _, last = path.rpartition("/")
    if last == "Dockerfile" or last.startswith("Dockerfile.") or last.lower().endswith(".dockerfile"):
        return head, last
    return path, "Dockerfile"


def _build_catalog(plain: dict[str, Any], filename: str, line_of: Any, document: Any) -> Catalog:
    default = plain["repository"]
    images = []
    for index, entry in enumerate(plain["images"]):
        platform = entry["platform"]
        eol = entry.get("endOfLife")
        folder, name = split_dockerfile(entry["dockerfile"])
        repository = entry.get("repository") or default
        images.append(ImageSpec(
            tagbase=qualified(repository, entry["tagBase"], default),
            repository=repository,
            folder=folder,
            platform=Platform(platform["os"], platform["architecture"], platform.get("variant"),
                              platform.get("osVersion")),
            build_args=dict(entry.get("buildArgs") or {}),
            tests=tuple(entry.get("tests") or ()),
            owners=tuple(entry.get("owners") or ()),
            eol=parse_date(eol, document, ["images", index, "endOfLife"], filename, line_of) if eol else None,
            shared_tags=tuple(entry.get("sharedTags") or ()),
            line=line_of(["images", index]),
            dockerfile_name=name,
            os_upgrade=entry.get("osUpgrade"),
        ))
    shared = _shared_tags(plain, images, filename, line_of, default)
    multi = {}
    for tag in shared:
        for member in tag.tagbases if tag.is_index else ():
            multi.setdefault(member, []).append(tag.tag)
    one = {}
    for tag in shared:
        if not tag.is_index:
            one.setdefault(tag.tagbases[0], []).append(tag.tag)
    images = [replace(i, shared_tags=tuple(dict.fromkeys([*i.shared_tags, *one.get(i.tagbase, ())])),
                      index_tags=tuple(multi.get(i.tagbase, ()))) for i in images]
    excluded = tuple(Exclusion(e["dockerfile"].strip().removeprefix("./"), e["reason"], line_of(["excluded", i]))
                     for i, e in enumerate(plain.get("excluded") or ()))
    return Catalog(plain["registry"], plain["repository"], tuple(images), plain.get("source", ""), filename,
                   tuple(a.rstrip("/") for a in plain.get("aliases") or ()), tuple(shared), excluded)


def _shared_tags(plain: dict[str, Any], images: list[ImageSpec], filename: str, line_of: Any,
                 default: str) -> list[SharedTag]:
    """Every shared tag (per image and catalogue-level), after checking that no tag would be moved by two
    images of one repository: duplicate tag bases, shared tags declared twice, a shared tag equal to another
    image's tag. A catalogue-level shared tag outside the default repository is keyed <repository>:<tag>, and
    its members are that repository's. Raises one InputError naming both places of each clash (file:line)."""
    problems: list[str] = []
    by_tagbase = {}
    for image in images:
        by_tagbase.setdefault(image.tagbase, image)
    declared: list[SharedTag] = []
    for index, image in enumerate(images):
        for j, tag in enumerate(image.shared_tags):
            declared.append(SharedTag(tag, (image.tagbase,), line_of(["images", index, "sharedTags", j]),
                                      image.repository))
    for key, members in (plain.get("sharedTags") or {}).items():
        line = line_of(["sharedTags", key])
        repository, _, tag = key.rpartition(":")
        repository = repository or default
        unknown = [m for m in members if m not in by_tagbase]
        if unknown:
            problems.append(f"{Location(filename, line)}: shared tag {key!r} names {', '.join(map(repr, unknown))}, "
                            f"not a tag base in the catalogue")
            continue
        elsewhere = [m for m in members if (by_tagbase[m].repository or default) != repository]
        if elsewhere:
            problems.append(f"{Location(filename, line)}: shared tag {key!r} is in repository {repository}, but "
                            f"{', '.join(elsewhere)} {'is' if len(elsewhere) == 1 else 'are'} not (key it "
                            f"<repository>:<tag> outside {default})")
            continue
        members = list(dict.fromkeys(members))
        for a_index, a in enumerate(members):
            for b in members[a_index + 1:]:
                if by_tagbase[a].matches(by_tagbase[b]):
                    problems.append(f"{Location(filename, line)}: shared tag {tag!r}: {a} and {b} have the same "
                                    f"platform {by_tagbase[a].platform} (one image per platform in an index)")
        declared.append(SharedTag(tag, tuple(members), line, repository))
    # every tag each image or shared tag moves in its repository, with where it was declared
    movers: dict[str, tuple[str, int | None]] = {}
    for image in images:
        what = f"tag base {image.tagbase!r}"
        for tag in (image.tag, image.staging_tag(), image.latest_tag()):
            _claim(movers, qualified(image.repository, tag, default), what, image.line, filename, problems)
    for shared in declared:
        what = f"shared tag {qualified(shared.repository, shared.tag, default)!r}"
        for tag in (shared.tag, shared.channel_tag("staging"), shared.channel_tag("latest")):
            _claim(movers, qualified(shared.repository, tag, default), what, shared.line, filename, problems)
    if problems:
        raise InputError(f"{len(problems)} duplicate or unknown tag(s)", Location(filename), problems)
    return declared


def _claim(movers: dict[str, tuple[str, int | None]], tag: str, what: str, line: int | None, filename: str,
           problems: list[str]) -> None:
    first = movers.get(tag)
    if first is None:
        movers[tag] = (what, line)
        return
    other, other_line = first
    if (other_line or 0) > (line or 0):  # name the later line, and the earlier one as "first"
        (what, line), (other, other_line) = (other, other_line), (what, line)
    if other == what and tag == what.split("'")[1]:
        kind = "tag base" if what.startswith("tag base") else "shared tag"
        problems.append(f"{Location(filename, line)}: duplicate {kind} {tag!r}, first at "
                        f"{Location(filename, other_line)}")
    elif other != what:
        problems.append(f"{Location(filename, line)}: {what} would move {tag!r}, which {other} at "
                        f"{Location(filename, other_line)} moves too")


