"""manifests/consumers.yml: which repositories to scan, where they are, which files to look at."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lifecycle import yamlio
from lifecycle.catalogue.schema import check_schema
from lifecycle.errors import InputError, Location

CONSUMERS_PATH = "manifests/consumers.yml"
DEFAULT_BRANCH = "main"


@dataclass(frozen=True)
class AzdoLocation:
    organization: str            # name or URL as written
    project: str
    repository: str
    branch: str = DEFAULT_BRANCH

    @property
    def organization_url(self) -> str:
        if "://" in self.organization:
            return self.organization.rstrip("/")
        return f"https://dev.azure.com/{self.organization}"


@dataclass(frozen=True)
class ConsumerRepo:
    name: str
    path: Path | None = None              # local checkout (resolved)
    azure_devops: AzdoLocation | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    line: int | None = None               # the entry's line in the consumers file
    config: str = CONSUMERS_PATH          # the consumers file, named as the user gave it
    path_line: int | None = None          # the line of its `path:` (what an unusable path names)
    branches: tuple[str, ...] = ()        # branch name patterns; () = the working tree / azureDevOps.branch

    @property
    def where(self) -> Location:
        """Where a problem with this repository's `path:` is reported: `<consumers file>:<line of path:>`."""
        return Location(self.config, self.path_line or self.line)

    def wants_branch(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.branches)

    def wants(self, relpath: str) -> bool:
        """Whether a file (path relative to the repository root, '/'-separated) is scanned."""
        if relpath == ".git" or relpath.startswith(".git/") or "/.git/" in relpath:
            return False
        if self.include and not any(glob_match(p, relpath) for p in self.include):
            return False
        return not any(glob_match(p, relpath) for p in self.exclude)

    def prunes(self, reldir: str) -> bool:
        """Whether a whole folder is excluded (a `<folder glob>/**` pattern), so a walk need not enter it."""
        if reldir == ".git" or reldir.endswith("/.git"):
            return True
        return any(glob_match(p[:-3], reldir) for p in self.exclude if p.endswith("/**"))


@dataclass(frozen=True)
class ConsumersConfig:
    repositories: tuple[ConsumerRepo, ...]
    registry_aliases: tuple[str, ...] = ()
    path: str = CONSUMERS_PATH

    def select(self, names: tuple[str, ...]) -> tuple[ConsumerRepo, ...]:
        if not names:
            return self.repositories
        known = {r.name for r in self.repositories}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InputError(f"no repository named {', '.join(unknown)} (known: {', '.join(sorted(known))})",
                             Location(self.path))
        return tuple(r for r in self.repositories if r.name in names)


def load_consumers(config_path: Path, base: Path, display: str | None = None) -> ConsumersConfig:
    """Read consumers.yml; local paths are relative to `base` (the GitOps repository root). `display` is
    how messages name the file: the path as the user gave it, or `manifests/consumers.yml`."""
    name = display or str(config_path)
    document = yamlio.load_file(config_path, name)
    if document is None:
        raise InputError("empty file", Location(name))
    plain = yamlio.to_plain(document)
    check_schema(document, plain, "consumers", name)
    default_include = tuple(plain.get("include") or ())
    default_exclude = tuple(plain.get("exclude") or ())
    repos: list[ConsumerRepo] = []
    seen: set[str] = set()
    for index, entry in enumerate(plain["repositories"]):
        line = yamlio.position(document, ["repositories", index])[0]
        if entry["name"] in seen:
            raise InputError(f"repository name {entry['name']!r} is used twice", Location(name, line))
        seen.add(entry["name"])
        azdo = entry.get("azureDevOps")
        local = entry.get("path")
        key = "path" if local else "azureDevOps"
        key_line = yamlio.key_position(document, ["repositories", index], key)[0]
        repos.append(ConsumerRepo(
            name=entry["name"],
            path=(base / local).resolve() if local else None,
            azure_devops=AzdoLocation(azdo["organization"], azdo["project"], azdo["repository"],
                                      azdo.get("branch", DEFAULT_BRANCH)) if azdo else None,
            include=tuple(entry.get("include") or default_include),
            exclude=tuple(entry.get("exclude") or ()) + default_exclude,
            line=line,
            config=name,
            path_line=key_line,
            branches=tuple(entry.get("branches") or ()),
        ))
    return ConsumersConfig(tuple(repos), tuple(plain.get("registryAliases") or ()), name)


def glob_match(pattern: str, path: str) -> bool:
    """gitignore-like globs: '**' spans folders, '*' and '?' do not; no '/' means 'file name anywhere'."""
    if "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    if pattern.endswith("/"):
        pattern += "**"
    return bool(_glob_regex(pattern.lstrip("/")).fullmatch(path))


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)
