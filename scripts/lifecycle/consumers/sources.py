"""Where consumer files come from: a local checkout, or a branch of an Azure DevOps repository."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lifecycle.azdo import AzureDevOps, RepoRef
from lifecycle.catalogue.source import cat_file_batch, run_git
from lifecycle.consumers.config import ConsumerRepo
from lifecycle.errors import InputError, OperationError

MAX_FILE_BYTES = 2 * 1024 * 1024


class Source(Protocol):
    repo: ConsumerRepo

    @property
    def name(self) -> str: ...

    @property
    def branch(self) -> str | None: ...    # None: a working tree

    def files(self) -> list[str]: ...

    def read(self, path: str) -> bytes: ...


class _Clone:
    """A source in a local clone (`path:` in the consumers file)."""

    repo: ConsumerRepo

    @property
    def name(self) -> str:
        return self.repo.name

    @property
    def root(self) -> Path:
        assert self.repo.path is not None
        return self.repo.path


@dataclass
class LocalSource(_Clone):
    """The working tree of a local checkout."""

    repo: ConsumerRepo
    concurrency: int = 1

    @property
    def branch(self) -> str | None:
        return None

    def files(self) -> list[str]:
        if not self.root.is_dir():
            raise InputError(f"repository {self.repo.name}: path {self.root} is not a directory", self.repo.where)
        found = []
        for folder, dirs, names in os.walk(self.root):
            rel_folder = Path(folder).relative_to(self.root).as_posix()
            prefix = "" if rel_folder == "." else rel_folder + "/"
            dirs[:] = sorted(d for d in dirs if not self.repo.prunes(prefix + d))
            for name in sorted(names):
                rel = name if rel_folder == "." else f"{rel_folder}/{name}"
                full = Path(folder, name)
                if self.repo.wants(rel) and full.is_file() and not full.is_symlink():
                    found.append(rel)
        return found

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def write(self, path: str, data: bytes) -> None:
        target = self.root / path
        # keep the file's mode; only the bytes change
        with open(target, "r+b") as handle:
            handle.write(data)
            handle.truncate()


@dataclass
class AzdoSource:
    """One branch of an Azure DevOps repository, read at a fixed commit (the branch head at first use),
    so that every file of one scan, and the migration built on it, come from the same commit."""

    repo: ConsumerRepo
    client: AzureDevOps
    concurrency: int = 8   # one request per file: read a few at a time
    _commit: str | None = field(default=None, repr=False)
    branch_name: str | None = None   # default: azureDevOps.branch

    @property
    def name(self) -> str:
        return self.repo.name

    @property
    def ref(self) -> RepoRef:
        loc = self.repo.azure_devops
        assert loc is not None
        return RepoRef(loc.organization_url, loc.project, loc.repository)

    @property
    def branch(self) -> str:
        assert self.repo.azure_devops is not None
        return self.branch_name or self.repo.azure_devops.branch

    @property
    def commit(self) -> str:
        if self._commit is None:
            head = self.client.branch_head(self.ref, self.branch)
            if head is None:
                raise OperationError(f"repository {self.repo.name}: branch {self.branch} not found in {self.ref}")
            self._commit = head
        return self._commit

    def files(self) -> list[str]:
        return [p for p in self.client.list_files(self.ref, self.commit) if self.repo.wants(p)]

    def read(self, path: str) -> bytes:
        return self.client.read_file(self.ref, path, self.commit)


@dataclass
class GitBranchSource(_Clone):
    """One branch of a local clone, read from git objects at its head: no checkout changes, so every
    branch of a repository is scanned while whatever is checked out stays as it is."""

    repo: ConsumerRepo
    branch: str
    commit: str
    concurrency: int = 1
    _files: list[str] | None = field(default=None, repr=False)
    _blobs: dict[str, bytes] | None = field(default=None, repr=False)

    def files(self) -> list[str]:
        if self._files is None:  # listed once: read() needs the same list
            listing = run_git(self.root, "ls-tree", "-r", "-z", "--full-tree", self.commit).split(b"\0")
            self._files = []
            for entry in listing:
                if not entry:
                    continue
                meta, _, path = entry.partition(b"\t")
                if meta.split()[1] == b"blob" and self.repo.wants(path.decode("utf-8", "surrogateescape")):
                    self._files.append(path.decode("utf-8", "surrogateescape"))
        return self._files

    def read(self, path: str) -> bytes:
        if self._blobs is None:  # one git process for every file of the branch
            paths = self.files()
            blobs = cat_file_batch(self.root, [f"{self.commit}:{p}" for p in paths])
            self._blobs = {p: b for p, b in zip(paths, blobs) if b is not None}
        return self._blobs[path]


def local_branches(root: Path) -> dict[str, str]:
    """name -> commit: the clone's own branches, and origin's for names it has no branch of."""
    out = run_git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/remotes/origin")
    heads: dict[str, str] = {}
    remotes: dict[str, str] = {}
    for line in out.decode().splitlines():
        ref, sha = line.split()
        if ref.startswith("refs/heads/"):
            heads[ref.removeprefix("refs/heads/")] = sha
        elif ref != "refs/remotes/origin/HEAD":
            remotes[ref.removeprefix("refs/remotes/origin/")] = sha
    return {**remotes, **heads}


def open_sources(repo: ConsumerRepo, azdo: AzureDevOps | None) -> list[LocalSource | AzdoSource | GitBranchSource]:
    """Every source of a repository: one per matching branch, or its working tree / configured branch."""
    if not repo.branches:
        return [open_source(repo, azdo)]
    if repo.path is not None:
        if not (repo.path / ".git").exists():
            raise InputError(f"repository {repo.name}: {repo.path} is not a git clone (branches: needs one)",
                             repo.where)
        found = local_branches(repo.path)
        sources: list = [GitBranchSource(repo, b, sha) for b, sha in sorted(found.items()) if repo.wants_branch(b)]
    else:
        source = open_source(repo, azdo)
        assert isinstance(source, AzdoSource)
        found = source.client.list_branches(source.ref)
        sources = [AzdoSource(repo, source.client, _commit=sha, branch_name=b)
                   for b, sha in sorted(found.items()) if repo.wants_branch(b)]
    if not sources:
        raise InputError(f"repository {repo.name}: no branch matches {', '.join(repo.branches)} "
                         f"(branches: {', '.join(sorted(found)) or 'none'})", Location(repo.config, repo.line))
    return sources


def open_source(repo: ConsumerRepo, azdo: AzureDevOps | None) -> LocalSource | AzdoSource:
    if repo.path is not None:
        return LocalSource(repo)
    if azdo is None:
        raise InputError(f"repository {repo.name} is on Azure DevOps: an Azure DevOps client (token) is needed",
                         repo.where)
    return AzdoSource(repo, azdo)
