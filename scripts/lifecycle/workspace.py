"""Everything the lifecycle knows about the repository at one point in history, loaded once.

`Workspace.load(source)` reads the catalogue and policy, parses every Dockerfile, links in-repo parents,
orders the graph and computes definition hashes. Problems are collected (for `validate`) rather than
raised one at a time; `strict=True` raises them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from lifecycle import catalog as catalog_mod
from lifecycle.catalog import Catalog, ImageSpec, Policy
from lifecycle.definition import definition_hash, definition_inputs
from lifecycle.dockerfile import BaseRef, Dockerfile, parse as parse_dockerfile
from lifecycle.errors import InputError, Location
from lifecycle.graph import CycleError, Graph
from lifecycle.source import TreeSource


@dataclass(frozen=True)
class Problem:
    message: str
    location: Location
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


@dataclass
class Workspace:
    source: TreeSource
    catalog: Catalog
    policy: Policy
    dockerfiles: dict[str, Dockerfile] = field(default_factory=dict)
    graph: Graph | None = None
    definitions: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def load(cls, source: TreeSource, *, strict: bool = True) -> "Workspace":
        catalog = catalog_mod.parse_catalog(_read_text(source, catalog_mod.CATALOG_PATH), catalog_mod.CATALOG_PATH)
        policy = catalog_mod.parse_policy(_read_text(source, catalog_mod.POLICY_PATH), catalog_mod.POLICY_PATH)
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

    def in_repo_tag(self, ref: str) -> str | None:
        """The tag of a reference into our own repository, else None."""
        prefix = f"{self.catalog.registry}/{self.catalog.repository}:"
        return ref[len(prefix):] if ref.startswith(prefix) else None

    def parents_of(self, tagbase: str) -> list[str]:
        return self.graph.parents[tagbase] if self.graph else []

    def external_bases(self, tagbase: str) -> list[BaseRef]:
        df = self.dockerfiles.get(tagbase)
        return [b for b in df.image_refs() if self.in_repo_tag(b.ref) is None] if df else []

    def base_refs(self, tagbase: str) -> list[BaseRef]:
        """Every image reference of every stage, in-repo and external, in Dockerfile order."""
        df = self.dockerfiles.get(tagbase)
        return df.image_refs() if df else []

    def _link(self) -> None:
        known = set(self.catalog.tagbases)
        parents: dict[str, list[str]] = {}
        for tagbase, df in self.dockerfiles.items():
            for ref in df.image_refs():
                tag = self.in_repo_tag(ref.ref)
                if tag is None:
                    continue
                if tag in known:
                    parents.setdefault(tagbase, []).append(tag)
                else:
                    self._problem(f"{ref.instruction} {ref.ref}: our own repository, but {tag!r} is not a tag base "
                                  f"in the catalogue (in-repo parents are named by their bare tag base)",
                                  df.path, ref.line)
        self.graph = Graph(list(self.catalog.tagbases), parents)
        cycle = self.graph.find_cycle()
        if cycle:
            first = self.catalog.get(cycle[1]) if len(cycle) > 1 else None
            self._problem("dependency cycle: " + " -> ".join(cycle),
                          first.dockerfile if first else self.catalog.path)
            return
        # one git process for every .dockerignore instead of one per image when reading a commit
        prefetch = getattr(self.source, "prefetch", None)
        if prefetch is not None:
            prefetch([f"{i.folder.rstrip('/')}/.dockerignore" for i in self.catalog.images
                      if self.source.exists(f"{i.folder.rstrip('/')}/.dockerignore")])
        for tagbase in self.graph.order():
            if tagbase not in self.dockerfiles or any(p not in self.definitions for p in self.graph.parents[tagbase]):
                continue
            image = self.catalog.image(tagbase)
            external = [b.ref for b in self.external_bases(tagbase)]
            inputs = definition_inputs(self.source, image, external,
                                       {p: self.definitions[p] for p in self.graph.parents[tagbase]})
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
