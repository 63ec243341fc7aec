"""The production branch in git: what was promoted, what is held, and how a rollout merge is written.

Everything here reads remote-tracking refs after a fetch and writes objects straight into the object
database; the caller's checkout (its index, HEAD and files) is never touched, so a rollout can run in any
clone, dirty or not. A rollout merge is not `git merge`: its tree is written file by file (main@C's tree,
except that held images keep production's files and catalogue entry), so git never merges file contents
and no tree exists that nobody tested.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

import git

from lifecycle.catalogue.catalog import CATALOG_PATH
from lifecycle.catalogue.catalog_splice import splice_entries
from lifecycle.catalogue.source import fallback_identity
from lifecycle.errors import InputError, OperationError
from lifecycle.catalogue.workspace import Workspace
from lifecycle.production.revert_holds import promoted_values, reverted

REVERT_MARK = "This reverts commit"
ROLLOUT_TRAILER = "Lifecycle-Rollout-Of"


class PushRejected(OperationError):
    """The remote refused a fast-forward: the branch moved since the fetch."""


@dataclass(frozen=True)
class Hold:
    tagbase: str
    reason: str
    production: str | None      # definition at production HEAD (None: not in production's catalogue)
    promoted: str | None        # the definition last rolled out (revert_holds.promoted_values)
    parent: str | None = None   # set when held because an in-repo parent is held

    def as_row(self) -> dict[str, str | None]:
        return {"image": self.tagbase, "reason": self.reason}


@dataclass(frozen=True)
class ForeignCommit:
    sha: str
    subject: str


def _run(root: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], input=input, capture_output=True,
                              env={**os.environ, **(env or {})})
    except FileNotFoundError:
        raise OperationError("git is not installed") from None
    if done.returncode != 0:
        raise OperationError(f"git {' '.join(args[:3])}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode()


def compute_holds(production: Workspace, promoted: Mapping[str, str] | None, candidate: Workspace
                  ) -> dict[str, Hold]:
    """Image i is held when revert_holds.reverted says so for definitions: its definition at production
    HEAD differs from its promoted one (someone reverted it on production) and main@C still has the
    promoted one (main has not changed it). `promoted`: GitOps.promoted_definitions (None: no rollout yet).
    A child of a held image is held too: its definition includes the parent's, so only production's files
    for both give a definition that was built and tested."""
    if promoted is None:
        return {}
    holds: dict[str, Hold] = {}
    for tagbase, found in reverted(production.definitions, promoted, candidate.definitions).items():
        what = "removed from production's catalogue" if found.production is None else "reverted on production"
        holds[tagbase] = Hold(tagbase, f"{what} since it was last rolled out; main has not changed it since",
                              found.production, found.promoted)
    assert candidate.graph is not None
    for tagbase in candidate.order(candidate.graph.descendants(set(holds))):
        if tagbase in holds:
            continue
        parent = next(p for p in candidate.order(candidate.graph.ancestors(tagbase)) if p in holds)
        holds[tagbase] = Hold(tagbase, f"its parent {parent} is held", production.definitions.get(tagbase),
                              promoted.get(tagbase), parent)
    return holds


def merged_definitions(production: Workspace, candidate: Workspace, holds: dict[str, Hold]) -> dict[str, str]:
    """The definitions the rollout tree will have: main@C's, production's for held images."""
    merged = {t: d for t, d in candidate.definitions.items() if t not in holds}
    merged.update({t: production.definitions[t] for t in holds if t in production.definitions})
    return merged


def held_catalog(candidate_text: str, production_text: str, held: list[str]) -> str:
    """main@C's images.yml with each held image's entry replaced by production's (or removed when
    production has none). Only those entries' lines change: the rest keeps main's bytes (a hold must not
    make the merge rewrite a file that neither branch changed)."""
    return splice_entries(candidate_text, production_text, held)


@dataclass
class GitOps:
    root: Path
    remote: str = "origin"
    main: str = "main"
    production: str = "production"
    repo: git.Repo = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        try:
            self.repo = git.Repo(self.root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise InputError(f"{self.root} is not a git repository") from None
        self.root = Path(self.repo.working_tree_dir or self.root)

    # -- refs -----------------------------------------------------------------------------------

    def ref(self, branch: str) -> str:
        return f"refs/remotes/{self.remote}/{branch}" if self.remote else f"refs/heads/{branch}"

    def fetch(self) -> None:
        if not self.remote:
            return
        try:
            self.repo.remote(self.remote).fetch(prune=True)
        except ValueError:
            raise InputError(f"{self.root}: no git remote named {self.remote!r}") from None
        except git.GitCommandError as exc:
            raise OperationError(f"git fetch {self.remote}: {exc.stderr.strip()}") from None

    def sha(self, rev: str) -> str:
        try:
            return self.repo.commit(rev).hexsha
        except (git.BadName, ValueError, git.GitCommandError):
            raise InputError(f"{rev!r} is not a commit in {self.root}") from None

    def branch_sha(self, branch: str) -> str:
        ref = self.ref(branch)
        try:
            return self.repo.commit(ref).hexsha
        except (git.BadName, ValueError, git.GitCommandError):
            hint = (f"; create it once from main: git push {self.remote} {self.main}:{branch}"
                    if branch == self.production else "")
            raise OperationError(f"branch {branch!r} not found ({ref}){hint}") from None

    def main_head(self) -> str:
        return self.branch_sha(self.main)

    def production_head(self) -> str:
        return self.branch_sha(self.production)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.repo.is_ancestor(ancestor, descendant)

    def first_parent(self, rev: str, limit: int) -> list[str]:
        return [c.hexsha for c in self.repo.iter_commits(rev, first_parent=True, max_count=limit)]

    def subject(self, sha: str) -> str:
        return str(self.repo.commit(sha).summary)

    def workspace(self, sha: str) -> Workspace:
        from lifecycle.catalogue.source import CommitTree

        return Workspace.load(CommitTree(self.root, sha))

    # -- history --------------------------------------------------------------------------------

    def foreign_commits(self, production: str, main: str) -> list[ForeignCommit]:
        """Commits on production, not on main, that are neither merges from main nor reverts."""
        foreign = []
        for commit in self.repo.iter_commits(f"{main}..{production}"):
            message = str(commit.message)
            if REVERT_MARK in message:
                continue
            if len(commit.parents) >= 2 and all(self.is_ancestor(p.hexsha, main) for p in commit.parents[1:]):
                continue
            foreign.append(ForeignCommit(commit.hexsha, str(commit.summary)))
        return foreign

    def check_production(self, production: str, main: str) -> None:
        foreign = self.foreign_commits(production, main)
        if foreign:
            listed = "\n".join(f"  - {c.sha[:10]} {c.subject}" for c in foreign[:20])
            raise OperationError(
                f"refusing to roll out: {self.production} has {len(foreign)} commit(s) that are neither merges "
                f"from {self.main} nor reverts. Production only receives rollouts and reverts; move these "
                f"changes to {self.main} (pull request) and revert them on {self.production}:\n{listed}")

    def last_promoted(self, production: str, main: str, limit: int = 1000) -> str | None:
        """P: the main commit the last rollout promoted (the second parent of the newest merge from main
        on production's first-parent line), or the main commit production was created from."""
        return next((promoted for _, promoted in self.rollouts(production, main, limit)), None)

    def rollouts(self, production: str, main: str, limit: int = 1000) -> Iterator[tuple[str, str]]:
        """(the commit whose tree a rollout wrote, the main commit it promoted), newest first along
        production's first-parent line: each merge from main with its second parent, ending with the main
        commit production was created from (its tree is main's, so it is its own pair)."""
        for sha in self.first_parent(production, limit):
            commit = self.repo.commit(sha)
            if len(commit.parents) >= 2 and self.is_ancestor(commit.parents[1].hexsha, main):
                yield sha, commit.parents[1].hexsha
            elif self.is_ancestor(sha, main):
                yield sha, sha
                return

    def promoted_definitions(self, production: str, main: str, load: Callable[[str], Workspace] | None = None
                             ) -> dict[str, str]:
        """Each image's promoted definition (revert_holds.promoted_values over production's rollouts)."""
        load = load or self.workspace
        return promoted_values(self.rollouts(production, main), lambda sha: load(sha).definitions)

    # -- writing --------------------------------------------------------------------------------

    def identity_env(self) -> dict[str, str]:
        """A committer identity for agents without one configured (CI)."""
        return fallback_identity(self.root)

    def rollout_tree(self, production: str, candidate: str, held: dict[str, list[str]],
                     files: dict[str, str] | None = None) -> str:
        """Write the tree: candidate's, except for each held image (tagbase -> its folders in either commit),
        whose folders and catalogue entry are production's (absent if production has none), and for `files`
        (path -> text) written as given. Returns the tree id."""
        with tempfile.TemporaryDirectory(prefix="lifecycle-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            _run(self.root, "read-tree", candidate, env=env)
            if held:
                folders = sorted({f for fs in held.values() for f in fs})
                staged = _run(self.root, "ls-files", "-z", "--", *folders, env=env)
                if staged:
                    _run(self.root, "update-index", "-z", "--force-remove", "--stdin", input=staged.encode(), env=env)
                listing = _run(self.root, "ls-tree", "-r", "-z", "--full-tree", production, "--", *folders)
                if listing:
                    _run(self.root, "update-index", "-z", "--index-info", input=listing.encode(), env=env)
                cand_cat = _run(self.root, "show", f"{candidate}:{CATALOG_PATH}")
                prod_cat = _run(self.root, "show", f"{production}:{CATALOG_PATH}")
                text = held_catalog(cand_cat, prod_cat, sorted(held))
                blob = _run(self.root, "hash-object", "-w", "--stdin", input=text.encode()).strip()
                _run(self.root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{CATALOG_PATH}", env=env)
            for path, content in (files or {}).items():
                blob = _run(self.root, "hash-object", "-w", "--stdin", input=content.encode()).strip()
                _run(self.root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            return _run(self.root, "write-tree", env=env).strip()

    def tree_of(self, sha: str) -> str:
        return self.repo.commit(sha).tree.hexsha

    def commit_tree(self, tree: str, parents: list[str], message: str) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return _run(self.root, *args, input=message.encode(), env=self.identity_env()).strip()

    def push(self, sha: str, branch: str) -> None:
        """Fast-forward `branch` on the remote to `sha`. PushRejected when the branch moved meanwhile."""
        target = f"{sha}:refs/heads/{branch}"
        done = subprocess.run(["git", "-C", str(self.root), "push", "--porcelain", self.remote, target],
                              capture_output=True, text=True)
        if done.returncode == 0:
            return
        text = done.stdout + done.stderr
        # "cannot lock ref ... is at X but expected Y": another push won the race for the ref on the remote
        # between our fetch and our update (two rollouts at once): the branch moved, like a non-fast-forward.
        if any(m in text for m in ("[rejected]", "non-fast-forward", "fetch first", "stale info",
                                   "cannot lock ref")):
            raise PushRejected(f"push to {self.remote}/{branch} rejected: {branch} moved since the fetch")
        raise OperationError(f"git push {self.remote} {target}: {done.stderr.strip()}")

    @contextlib.contextmanager
    def worktree(self, sha: str) -> Iterator[Path]:
        """A detached checkout of `sha` in a temporary folder, removed afterwards (the caller's checkout,
        index and HEAD are not touched)."""
        with tempfile.TemporaryDirectory(prefix="lifecycle-worktree-") as tmp:
            path = Path(tmp) / "tree"
            _run(self.root, "worktree", "add", "--detach", "-q", str(path), sha)
            try:
                yield path
            finally:
                _run(self.root, "worktree", "remove", "--force", str(path))

    def revert(self, base: str, commit: str) -> str:
        """A commit on top of `base` that reverts `commit` (a merge is reverted against its first parent,
        the production line). Returns the new commit."""
        merge = len(self.repo.commit(commit).parents) > 1
        with self.worktree(base) as path:
            try:
                _run(path, "revert", "--no-edit", *(["-m", "1"] if merge else []), commit, env=self.identity_env())
            except OperationError as exc:
                raise OperationError(f"cannot revert {commit[:10]} on {self.production}: {exc}. Resolve it by "
                                     f"hand: git revert {'-m 1 ' if merge else ''}{commit}") from None
            return _run(path, "rev-parse", "HEAD").strip()
