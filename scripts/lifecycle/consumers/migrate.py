"""Rewrite pinned and bare references to `<tagbase>-latest`, touching only the reference text.

Edits replace exact character spans found by the scan, from the end of the file backwards, so every
other byte (comments, quoting, anchors, order, line endings) is unchanged and `git diff` shows only the
references. A second run finds nothing pinned or bare and changes nothing.

With a registry, a reference is rewritten only to a tag the registry has; the others are left alone and
reported. Without one (`--no-registry`) nothing is verified, so every target tag is reported as unchecked.
"""

from __future__ import annotations

import difflib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lifecycle.azdo import AzureDevOps, PullRequest
from lifecycle.catalogue.source import fallback_identity, run_git
from lifecycle.consumers.classify import Classified, RegistryView
from lifecycle.consumers.references import COMMENT
from lifecycle.consumers.scan import ScannedFile, SourceScan, encode
from lifecycle.consumers.sources import AzdoSource, GitBranchSource, LocalSource
from lifecycle.errors import OperationError

DEFAULT_BRANCH = "lifecycle/migrate-to-latest"
PR_TITLE = "Move container image references to -latest tags"
MAX_DESCRIPTION = 3900  # Azure DevOps refuses pull request descriptions over 4000 characters


@dataclass(frozen=True)
class Edit:
    path: str
    line: int
    column: int
    old: str
    new: str
    kind: str
    klass: str
    target: str = ""      # the tag the reference moves to


@dataclass
class FileChange:
    path: str
    old: bytes
    new: bytes
    edits: list[Edit]

    def diff(self, label: str = "") -> str:
        prefix = f"{label}/" if label else ""
        old = self.old.decode("utf-8", "replace").splitlines(keepends=True)
        new = self.new.decode("utf-8", "replace").splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"a/{prefix}{self.path}", f"b/{prefix}{self.path}")
        return "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
                       for line in lines)


@dataclass(frozen=True)
class Skipped:
    path: str
    line: int
    reference: str
    reason: str


@dataclass
class SourceMigration:
    name: str
    changes: list[FileChange] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    pull_request: PullRequest | None = None
    pull_request_existed: bool = False
    branch: str | None = None               # the branch scanned (None: a working tree)
    commit: str | None = None               # the local branch commit written by apply_branch

    @property
    def edits(self) -> list[Edit]:
        return [e for c in self.changes for e in c.edits]


def _wanted(c: Classified) -> bool:
    return c.migratable and c.reference.kind != COMMENT


TargetFn = Callable[[Classified], "str | None"]


def _to_latest(c: Classified) -> str | None:
    return c.target_tag if _wanted(c) else None


def plan_file(scanned: ScannedFile, registry: RegistryView | None = None,
              target_of: TargetFn = _to_latest, default: str | None = None) -> tuple[FileChange | None, list[Skipped]]:
    """The new content of one file, and the references left alone for a reason worth reporting.
    `target_of`: the tag a reference should use, None to leave it (default: pinned and bare to -latest);
    a catalogue name: `<repository>:<tag>` outside the `default` repository (None: the reference's own)."""
    text = scanned.text
    edits: list[Edit] = []
    skipped: list[Skipped] = []
    pieces: list[str] = []
    cursor = 0
    for c in sorted(scanned.references, key=lambda c: c.reference.start):
        r = c.reference
        target = target_of(c)
        if target is None:
            continue
        repository, _, tag = target.rpartition(":")
        repository = repository or default or r.repository
        if (repository, tag) == (r.repository, r.tag) and not r.digest:
            continue
        if registry is not None and registry.of(repository).digest_of(tag) is None:
            skipped.append(Skipped(r.path, r.line, r.text, f"{target} is not in the registry"))
            continue
        new = f"{r.registry}/{repository}:{tag}"
        if text[r.start:r.end] != r.text:  # the scan and the text disagree: never guess
            raise OperationError(f"{r.path}:{r.line}: reference moved since the scan; scan again")
        pieces.append(text[cursor:r.start])
        pieces.append(new)
        cursor = r.end
        edits.append(Edit(r.path, r.line, r.column, r.text, new, r.kind, c.klass, target))
    if not edits:
        return None, skipped
    pieces.append(text[cursor:])
    return FileChange(scanned.path, encode(text), encode("".join(pieces)), edits), skipped


def plan_source(scan: SourceScan, registry: RegistryView | None = None,
                target_of: TargetFn = _to_latest, default: str | None = None) -> SourceMigration:
    migration = SourceMigration(scan.name, branch=scan.branch)
    for scanned in scan.files:
        change, skipped = plan_file(scanned, registry, target_of, default)
        migration.skipped.extend(skipped)
        if change is not None:
            migration.changes.append(change)
    return migration


def unchecked_targets(migrations: list[SourceMigration]) -> dict[str, int]:
    """Target tag -> how many references move to it: what `--no-registry` rewrites without knowing the tag
    exists, so that each can be named in a warning."""
    counts: dict[str, int] = {}
    for migration in migrations:
        for edit in migration.edits:
            counts[edit.target] = counts.get(edit.target, 0) + 1
    return dict(sorted(counts.items()))


def apply_local(source: LocalSource, migration: SourceMigration) -> None:
    """Write the new bytes, after checking each file still holds what was scanned."""
    for change in migration.changes:
        if source.read(change.path) != change.old:
            raise OperationError(f"{source.name}: {change.path} changed since the scan; nothing written to it")
    for change in migration.changes:
        source.write(change.path, change.new)


def description(migration: SourceMigration) -> str:
    lines = ["Automated by `lifecycle consumers migrate`: image references move to the `-latest` tags, which "
             "the weekly rollout keeps on the last known good build. Only the references change.", ""]
    for e in migration.edits:
        lines.append(f"- `{e.path}:{e.line}` ({e.kind}, {e.klass}): `{e.old}` -> `{e.new}`")
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_DESCRIPTION:
        cut = text.rfind("\n", 0, MAX_DESCRIPTION - 80)
        remaining = text[cut:].count("\n- ")
        text = text[:cut] + f"\n- ... and {remaining} more change(s)\n"
    return text


def open_pull_request(source: AzdoSource, migration: SourceMigration, client: AzureDevOps,
                      branch: str = DEFAULT_BRANCH) -> SourceMigration:
    """Push the edits as `branch` (one commit on the scanned commit) and open a pull request to the
    scanned branch. An active pull request from `branch` means a previous run did it: nothing is pushed."""
    if not migration.changes:
        return migration
    existing = client.find_pull_request(source.ref, branch, source.branch)
    if existing is not None:
        migration.pull_request, migration.pull_request_existed = existing, True
        return migration
    if client.branch_head(source.ref, branch) is not None:
        raise OperationError(f"{source.name}: branch {branch} exists in {source.ref} without an active pull "
                             f"request to {source.branch}; delete it or pass another --branch")
    client.push_branch(source.ref, branch, source.commit, {c.path: c.new for c in migration.changes},
                       f"{PR_TITLE}\n\n{len(migration.edits)} reference(s) in {len(migration.changes)} file(s)")
    pr_id, url = client.create_pull_request(source.ref, branch, source.branch, PR_TITLE, description(migration))
    migration.pull_request = PullRequest(pr_id, url, f"refs/heads/{branch}", f"refs/heads/{source.branch}", PR_TITLE)
    return migration


def pr_branch(base: str, source: AzdoSource | GitBranchSource) -> str:
    """One migration branch per scanned branch: `<base>/<branch>` when a repository lists branches."""
    return f"{base}/{source.branch}" if source.repo.branches else base


def apply_branch(source: GitBranchSource, migration: SourceMigration, branch: str) -> SourceMigration:
    """One commit on the scanned commit with the edits, as local branch `branch`, written from git objects:
    no checkout, index or working tree of the clone changes. An existing `branch` is left as it is."""
    if not migration.changes:
        return migration
    root = source.root
    ref = f"refs/heads/{branch}"
    if ref in run_git(root, "for-each-ref", "--format=%(refname)", ref).decode().split():
        raise OperationError(f"{source.name}: branch {branch} exists already; delete it or pass another --branch")
    with tempfile.TemporaryDirectory(prefix="lifecycle-migrate-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        run_git(root, "read-tree", source.commit, env=env)
        for change in migration.changes:
            mode = run_git(root, "ls-tree", source.commit, "--", change.path).decode().split(" ", 1)[0] or "100644"
            blob = run_git(root, "hash-object", "-w", "--stdin", input=change.new).decode().strip()
            run_git(root, "update-index", "--cacheinfo", f"{mode},{blob},{change.path}", env=env)
        tree = run_git(root, "write-tree", env=env).decode().strip()
    message = f"{PR_TITLE}\n\n{len(migration.edits)} reference(s) in {len(migration.changes)} file(s)\n"
    commit = run_git(root, "commit-tree", tree, "-p", source.commit, input=message.encode(),
                     env=fallback_identity(root)).decode().strip()
    run_git(root, "update-ref", ref, commit, "0" * 40)
    migration.commit = commit
    return migration
