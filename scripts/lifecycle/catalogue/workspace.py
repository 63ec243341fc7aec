"""Everything the lifecycle knows about the repository at one point in history, loaded once.

`Workspace.load(source)` reads the catalogue and policy, parses every Dockerfile, links in-repo parents,
orders the graph and computes definition hashes. Problems are collected (for `validate`) rather than
raised one at a time; `strict=True` raises them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from lifecycle.catalogue import catalog as catalog_mod, policy as policy_mod
from lifecycle.catalogue.catalog import Catalog, ImageSpec
from lifecycle.catalogue.policy import Policy, Waiver
from lifecycle.catalogue.definition import definition_hash, definition_inputs
from lifecycle.catalogue.dockerfile import BaseRef, Dockerfile, parse as parse_dockerfile
from lifecycle.errors import InputError, Location
from lifecycle.catalogue.graph import CycleError, Graph, describe_cycle
from lifecycle.catalogue.source import TreeSource


@dataclass(frozen=True)
class Problem:
    message: str
    location: Location
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class WaiverUse:
    """A waiver of the policy as `validate` found it: what uses it now and how long it has left."""

    waiver: Waiver
    using: list[str]
    days_left: int


@dataclass
class Workspace:
    source: TreeSource
    catalog: Catalog
    policy: Policy
    dockerfiles: dict[str, Dockerfile] = field(default_factory=dict)
    graph: Graph | None = None
    definitions: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    waivers: list[WaiverUse] = field(default_factory=list)  # filled by validate

    @classmethod
    def load(cls, source: TreeSource, *, strict: bool = True) -> "Workspace":
        catalog = catalog_mod.parse_catalog(_read_text(source, catalog_mod.CATALOG_PATH), catalog_mod.CATALOG_PATH)
        policy = policy_mod.parse_policy(_read_text(source, policy_mod.POLICY_PATH), policy_mod.POLICY_PATH)
        ws = cls(source, catalog, policy)
        ws._parse_dockerfiles()
        ws._link()
        if strict:
            ws.raise_errors()
        return ws

    # -- loading ---------------------------------------------------------------------------------------

    def _problem(self, message: str, file: str, line: int | None = None, severity: str = "error") -> None:
        self.problems.append(Problem(message, Location(file, line), severity))

    def _parse_dockerfiles(self) -> None:
        texts = self.source.read_many([i.dockerfile for i in self.catalog.images])  # type: ignore[attr-defined]
        for image in self.catalog.images:
            data = texts.get(image.dockerfile)
            if data is None:
                self._problem(f"image {image.tagbase}: no Dockerfile at {image.dockerfile} "
                              f"(missing, or ignored by git)", self.catalog.path, image.line)
                continue
            try:
                self.dockerfiles[image.tagbase] = parse_dockerfile(data.decode("utf-8", "replace"),
                                                                   image.dockerfile, image.build_args)
            except InputError as exc:
                loc = exc.location or Location(image.dockerfile)
                self.problems.append(Problem(str(exc).split(": ", 1)[-1] if exc.location else str(exc), loc))

    def in_repo(self, ref: str) -> tuple[str, str] | None:
        """(our repository, tag) of a reference into one of our repositories, under any of its names
        (aliases), else None."""
        name, sep, tag = ref.split("@", 1)[0].rpartition(":")
        if not sep or "/" in tag:
            return None
        repository = self.catalog.repository_names.get(name)
        return (repository, tag) if repository is not None else None

    def in_repo_tag(self, ref: str) -> str | None:
        """The tag of a reference into one of our repositories, under any of its names (aliases), else None."""
        found = self.in_repo(ref)
        return found[1] if found else None

    def parent_of(self, tagbase: str, ref: str) -> str | None:
        """The catalogued image an in-repo reference of `tagbase`'s Dockerfile names: by tag base, or by
        shared tag (a multi-platform one resolves to the member with the child's platform), in whichever of
        our repositories the reference names. None otherwise."""
        found = self.in_repo(ref)
        if found is None:
            return None
        return self.catalog.resolve_tag(found[1], self.catalog.get(tagbase), found[0])

    def parents_of(self, tagbase: str) -> list[str]:
        return self.graph.parents[tagbase] if self.graph else []

    def external_bases(self, tagbase: str) -> list[BaseRef]:
        df = self.dockerfiles.get(tagbase)
        return [b for b in df.image_refs() if self.in_repo_tag(b.ref) is None] if df else []

    def base_refs(self, tagbase: str) -> list[BaseRef]:
        """Every image reference of every stage, in-repo and external, in Dockerfile order."""
        df = self.dockerfiles.get(tagbase)
        return df.image_refs() if df else []

    def nested_folders(self) -> dict[str, list[str]]:
        """folder -> the other catalogued contexts inside it (not part of its definition)."""
        folders = sorted({i.folder.rstrip("/") for i in self.catalog.images})
        nested: dict[str, list[str]] = {}
        for index, folder in enumerate(folders):
            prefix = folder + "/"
            inner = []
            for other in folders[index + 1:]:  # sorted: everything under `folder` follows it directly
                if not other.startswith(prefix):
                    if other > prefix:
                        break
                    continue
                inner.append(other)
            nested[folder] = inner
        return nested

    def _link(self) -> None:
        parents: dict[str, list[str]] = {}
        edges: dict[tuple[str, str], str] = {}
        for tagbase, df in self.dockerfiles.items():
            child = self.catalog.image(tagbase)
            for ref in df.image_refs():
                found = self.in_repo(ref.ref)
                if found is None:
                    continue
                repository, tag = found
                parent = self.catalog.resolve_tag(tag, child, repository)
                if parent is None:
                    shared = self.catalog.shared_tag(tag, repository)
                    why = (f"shared tag {tag!r} has no {child.platform} image" if shared is not None else
                           f"{tag!r} is neither a tag base nor a shared tag of {repository} in the catalogue")
                    self._problem(f"{ref.instruction} {ref.ref}: our own repository, but {why} "
                                  f"(in-repo parents are named by tag base or shared tag)", df.path, ref.line)
                    continue
                parent_image = self.catalog.image(parent)
                if parent_image.platform.os != child.platform.os:
                    self._problem(f"{ref.instruction} {ref.ref}: a {parent_image.platform.os} image cannot be the "
                                  f"parent of {tagbase} ({child.platform})", df.path, ref.line)
                parents.setdefault(tagbase, []).append(parent)
                edges.setdefault((tagbase, parent), str(Location(df.path, ref.line)))
        self.graph = Graph(list(self.catalog.tagbases), parents, edges)
        cycle = self.graph.find_cycle()
        if cycle:
            first = edges.get((cycle[1], cycle[0])) if len(cycle) > 1 else None
            file, _, line = (first or self.catalog.path).rpartition(":") if first else (self.catalog.path, "", "")
            self._problem(describe_cycle(cycle, edges), file or self.catalog.path, int(line) if line else None)
            return
        # one git process for every .dockerignore instead of one per image when reading a commit
        prefetch = getattr(self.source, "prefetch", None)
        if prefetch is not None:
            prefetch([f"{i.folder.rstrip('/')}/.dockerignore" for i in self.catalog.images
                      if self.source.exists(f"{i.folder.rstrip('/')}/.dockerignore")])
        nested = self.nested_folders()
        for tagbase in self.graph.order():
            if tagbase not in self.dockerfiles or any(p not in self.definitions for p in self.graph.parents[tagbase]):
                continue
            image = self.catalog.image(tagbase)
            external = [b.ref for b in self.external_bases(tagbase)]
            inputs = definition_inputs(self.source, image, external,
                                       {p: self.definitions[p] for p in self.graph.parents[tagbase]},
                                       nested.get(image.folder.rstrip("/"), ()))
            self.definitions[tagbase] = definition_hash(inputs)

    # -- queries ---------------------------------------------------------------------------------------

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def raise_errors(self) -> None:
        errors = self.errors
        if errors:
            raise InputError(f"{len(errors)} problem(s) in the repository", problems=[str(p) for p in errors])

    def order(self, tagbases: Iterable[str] | None = None) -> list[str]:
        assert self.graph is not None
        try:
            return self.graph.order(tagbases)
        except CycleError as exc:
            raise InputError(str(exc), Location(self.catalog.path)) from None

    def with_descendants(self, tagbases: Iterable[str]) -> list[str]:
        assert self.graph is not None
        chosen = set(tagbases)
        return self.order(chosen | self.graph.descendants(chosen))

    def image(self, tagbase: str) -> ImageSpec:
        return self.catalog.image(tagbase)


def _read_text(source: TreeSource, path: str) -> str:
    data = source.read(path)
    if data is None:
        raise InputError(f"missing in {source.label}", Location(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", Location(path)) from None
