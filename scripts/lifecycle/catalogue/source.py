"""The files of the GitOps repository, either at a commit or in the working tree.

Everything that computes definitions reads through a TreeSource, so that `plan --since REF`,
rollout (definitions at main@C and at production HEAD) and publish (working tree) share one code path.
File identity is the git blob id, so a commit and a clean checkout of it hash the same.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lifecycle.errors import InputError, OperationError


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def run_git(repo: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    """Run git in `repo` (`env` added to the environment); OperationError with git's message on failure."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, check=True,
                              env={**os.environ, **env} if env else None)
    except FileNotFoundError:
        raise OperationError("git is not installed") from None
    except subprocess.CalledProcessError as exc:
        raise OperationError(f"git {' '.join(args)}: {exc.stderr.decode(errors='replace').strip()}") from None
    return done.stdout


def cat_file_batch(repo: Path, specs: list[str]) -> list[bytes | None]:
    """Many objects (`<rev>:<path>` or object ids) with one `git cat-file --batch`; None for a missing one."""
    if not specs:
        return []
    raw = run_git(repo, "cat-file", "--batch", input="".join(s + "\n" for s in specs).encode("utf-8", "surrogateescape"))
    out: list[bytes | None] = []
    pos = 0
    while pos < len(raw):
        end = raw.index(b"\n", pos)
        header = raw[pos:end].split()
        if header[-1] == b"missing":
            out.append(None)
            pos = end + 1
            continue
        size = int(header[2])
        out.append(raw[end + 1:end + 1 + size])
        pos = end + 1 + size + 1
    return out


def fallback_identity(repo: Path) -> dict[str, str]:
    """A committer identity (GIT_AUTHOR_*/GIT_COMMITTER_*) for agents that have none configured (CI); empty
    where git config or the environment already names one."""
    env: dict[str, str] = {}
    for key, setting, fallback in (("NAME", "user.name", "lifecycle"), ("EMAIL", "user.email", "lifecycle@localhost")):
        configured = subprocess.run(["git", "-C", str(repo), "config", setting], capture_output=True).stdout.strip()
        if not configured and f"GIT_AUTHOR_{key}" not in os.environ:
            env.update({f"GIT_AUTHOR_{key}": fallback, f"GIT_COMMITTER_{key}": fallback})
    return env


class TreeSource(Protocol):
    label: str

    def read(self, path: str) -> bytes | None: ...

    def files_under(self, folder: str) -> list[str]: ...

    def blob_id(self, path: str) -> str: ...

    def executable(self, path: str) -> bool: ...

    def exists(self, path: str) -> bool: ...

    def all_files(self) -> list[str]: ...


def _under(paths: list[str], folder: str) -> list[str]:
    """Paths below folder; `paths` is sorted, so they are one contiguous run found by bisection."""
    prefix = folder.rstrip("/") + "/"
    start = bisect.bisect_left(paths, prefix)
    end = start
    while end < len(paths) and paths[end].startswith(prefix):
        end += 1
    return paths[start:end]


@dataclass
class CommitTree:
    """The tree of one commit, read with two git processes however many files are asked for."""

    repo: Path
    rev: str
    label: str = ""
    _entries: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _sorted: list[str] = field(default_factory=list, init=False, repr=False)
    _blobs: dict[str, bytes] = field(default_factory=dict, init=False, repr=False)
    _executable: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.repo = Path(self.repo)
        try:
            commit = run_git(self.repo, "rev-parse", "--verify", "--quiet", f"{self.rev}^{{commit}}").decode().strip()
        except OperationError:
            raise InputError(f"{self.rev!r} is not a commit in {self.repo}") from None
        self.commit = commit
        self.label = self.label or f"{self.rev} ({commit[:7]})"
        listing = run_git(self.repo, "ls-tree", "-r", "-z", "--full-tree", commit)
        for record in listing.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            mode, kind, oid = meta.split()
            if kind == b"blob":
                self._entries[path.decode()] = oid.decode()
                if mode == b"100755":
                    self._executable.add(path.decode())
        self._sorted = sorted(self._entries)

    def all_files(self) -> list[str]:
        return self._sorted

    def exists(self, path: str) -> bool:
        return path in self._entries

    def blob_id(self, path: str) -> str:
        return self._entries[path]

    def executable(self, path: str) -> bool:
        return path in self._executable

    def files_under(self, folder: str) -> list[str]:
        return _under(self._sorted, folder)

    def read(self, path: str) -> bytes | None:
        return self.read_many([path]).get(path)

    def prefetch(self, paths: list[str]) -> None:
        """Load these blobs now with one git process, so later read() calls cost nothing."""
        self.read_many(paths)

    def read_many(self, paths: list[str]) -> dict[str, bytes]:
        """Read many files with one `git cat-file --batch`."""
        wanted = [p for p in paths if p in self._entries and p not in self._blobs]
        for path, data in zip(wanted, cat_file_batch(self.repo, [self._entries[p] for p in wanted])):
            if data is not None:
                self._blobs[path] = data
        return {p: self._blobs[p] for p in paths if p in self._blobs}


@dataclass
class WorkTree:
    """The working tree: git-tracked files plus untracked ones git does not ignore (what the next commit holds)."""

    root: Path
    label: str = "working tree"
    _files: list[str] = field(default_factory=list, init=False, repr=False)
    _ids: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if (self.root / ".git").exists() or _inside_git(self.root):
            listing = run_git(self.root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
            names = {p for p in listing.decode().split("\0") if p}
            root = str(self.root)
            self._files = sorted(p for p in names if os.path.isfile(os.path.join(root, p)))
        else:
            self._files = sorted(
                str(Path(dirpath, f).relative_to(self.root)).replace(os.sep, "/")
                for dirpath, _dirs, files in os.walk(self.root) for f in files
            )
        self._set = set(self._files)

    def all_files(self) -> list[str]:
        return self._files

    def exists(self, path: str) -> bool:
        return path in self._set

    def files_under(self, folder: str) -> list[str]:
        return _under(self._files, folder)

    def read(self, path: str) -> bytes | None:
        if path not in self._set:
            return None  # absent, or ignored by git: not part of what the next commit holds
        try:
            with open(os.path.join(self.root, path), "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def read_many(self, paths: list[str]) -> dict[str, bytes]:
        return {p: data for p in paths if (data := self.read(p)) is not None}

    def prefetch(self, paths: list[str]) -> None:
        """Nothing to do: reading the working tree is cheap (CommitTree batches git processes)."""

    def executable(self, path: str) -> bool:
        """What git records as mode 100755 (the build copies the bit into the image)."""
        return os.access(os.path.join(self.root, path), os.X_OK)

    def blob_id(self, path: str) -> str:
        if path not in self._ids:
            data = self.read(path)
            if data is None:
                raise InputError(f"{path}: file disappeared while reading the working tree")
            self._ids[path] = git_blob_id(data)
        return self._ids[path]


def _inside_git(path: Path) -> bool:
    try:
        return run_git(path, "rev-parse", "--is-inside-work-tree").strip() == b"true"
    except OperationError:
        return False
