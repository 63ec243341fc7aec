"""Where consumer files come from: a local checkout, or a branch of an Azure DevOps repository."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lifecycle.azdo import AzureDevOps, RepoRef
from lifecycle.consumers.config import ConsumerRepo
from lifecycle.errors import InputError, OperationError

MAX_FILE_BYTES = 2 * 1024 * 1024


class Source(Protocol):
    repo: ConsumerRepo

    @property
    def name(self) -> str: ...

    def files(self) -> list[str]: ...

    def read(self, path: str) -> bytes: ...


@dataclass
class LocalSource:
    """The working tree of a local checkout."""

    repo: ConsumerRepo
    concurrency: int = 1

    @property
    def name(self) -> str:
        return self.repo.name

    @property
    def root(self) -> Path:
        assert self.repo.path is not None
        return self.repo.path

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
        return self.repo.azure_devops.branch

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


def open_source(repo: ConsumerRepo, azdo: AzureDevOps | None) -> LocalSource | AzdoSource:
    if repo.path is not None:
        return LocalSource(repo)
    if azdo is None:
        raise InputError(f"repository {repo.name} is on Azure DevOps: an Azure DevOps client (token) is needed",
                         repo.where)
    return AzdoSource(repo, azdo)
