"""What a consumer of `<tagbase>-latest` gets at the next rollout: the difference between what `-latest`
serves now and what `-staging` (what the next rollout promotes) serves.

Read from the two images' labels (the revision publish built from and the base digests it recorded) and from
git (the commits between the two revisions that touch the image's folders, its in-repo parents' folders or
the catalogue). OS package versions are not recorded by publish: with a PackageChecker (an engine) both
images' package lists are read inside them (status/packages_diff.py); without one `packages` is None and
`packages_note` says why, wherever it is shown.
"""

from __future__ import annotations

from gitdb.exc import BadName, BadObject

from lifecycle.build.labels import REVISION
from lifecycle.catalogue.workspace import Workspace
from lifecycle.cleanup.stale import recorded_bases
from lifecycle.errors import InputError
from lifecycle.production.gitops import GitOps
from lifecycle.packages import PackageChecker
from lifecycle.registry import RegistryClient
from lifecycle.status.history import utc_time
from lifecycle.status.model import BaseChange, DiffCommit, ImageDiff
from lifecycle.status.packages_diff import read_packages


def _paths(ws: Workspace, tagbase: str) -> list[str]:
    assert ws.graph is not None
    folders = {ws.catalog.image(t).folder.rstrip("/") for t in {tagbase, *ws.graph.ancestors(tagbase)}}
    return sorted(folders | {ws.catalog.path})


def image_diff(ops: GitOps, ws: Workspace, client: RegistryClient, tagbase: str, limit: int = 200,
               packages: PackageChecker | None = None) -> ImageDiff:
    """-latest against -staging; `packages` reads both package lists (engine runs, cached by digest)."""
    out = _labels_and_commits(ops, ws, client, tagbase, limit)
    if out.staging is not None and not out.same:
        read_packages(out, packages, image_name(ws, tagbase))
    return out


def image_name(ws: Workspace, tagbase: str) -> str:
    """registry/repository of the image's tags (its own repository in a many-repository catalogue)."""
    return f"{ws.catalog.registry}/{ws.catalog.repository_of(ws.catalog.image(tagbase))}"


def _labels_and_commits(ops: GitOps, ws: Workspace, client: RegistryClient, tagbase: str, limit: int) -> ImageDiff:
    spec = ws.catalog.get(tagbase)
    if spec is None:
        known = ", ".join(t.tagbase for t in ws.catalog.images[:8])
        raise InputError(f"--diff {tagbase!r}: not an image of main's catalogue {ws.catalog.path} "
                         f"(images: {known}{', ...' if len(ws.catalog.images) > 8 else ''})")
    repo = ws.catalog.repository_of(spec)
    latest = client.try_resolve(repo, spec.latest_tag())
    staging = client.try_resolve(repo, spec.staging_tag())
    labels = {name: client.config(repo, digest).labels if digest else {}
              for name, digest in (("latest", latest), ("staging", staging))}
    out = ImageDiff(tagbase, latest, staging, labels["latest"].get(REVISION), labels["staging"].get(REVISION),
                    same=latest is not None and latest == staging)
    if staging is None:
        out.note = f"{spec.staging_tag()} is not published: the next rollout has nothing to promote"
        return out
    if out.same:
        out.note = "-staging serves what -latest serves: the next rollout changes nothing for consumers"
        return out
    old_bases = recorded_bases(labels["latest"], ws.policy)
    new_bases = recorded_bases(labels["staging"], ws.policy)
    out.bases = [BaseChange(ref, old_bases.get(ref), new_bases.get(ref)) for ref in sorted({*old_bases, *new_bases})
                 if old_bases.get(ref) != new_bases.get(ref)]
    old, new = out.latest_revision, out.staging_revision
    if not new or not _known(ops, new) or (old and not _known(ops, old)):
        out.note = "the revision labels do not name commits of this repository: commits not listed"
        return out
    rev = f"{old}..{new}" if old else new
    for commit in ops.repo.iter_commits(rev, paths=_paths(ws, tagbase), max_count=limit):
        out.commits.append(DiffCommit(commit.hexsha, str(commit.summary), str(commit.author.name),
                                      utc_time(commit.authored_date)))
    if not out.commits:
        out.note = "no commit touches its files between the two builds: a rebuild (base or OS packages)"
    return out


def _known(ops: GitOps, sha: str) -> bool:
    try:
        ops.repo.commit(sha)
        return True
    except (ValueError, BadName, BadObject):
        return False
