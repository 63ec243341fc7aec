"""Retiring an image: remove it from the catalogue and its build context from src/, in one commit.

The catalogue entry is cut out of manifests/images.yml as text (the lines of that one list item), so
every other byte of the file stays as it was: comments, blank lines, flow maps, quoting. ruamel's
round-trip dump would re-indent and re-flow parts of the file; it is used only to locate the item and,
afterwards, to check that the result parses to the same catalogue minus this image.

The image's registry tags are not touched here: cleanup deletes a retired tag base's tags once its
newest build is older than the policy's retired grace period, keeping anything the usage file names.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from lifecycle import yamlio

from lifecycle.catalogue import catalog as catalog_mod
from lifecycle.catalogue.catalog import IMMUTABLE_SUFFIX_RE, ImageSpec
from lifecycle.cleanup.retire_eol import mark_end_of_life
from lifecycle.cleanup.rules import Usage
from lifecycle.errors import InputError, Location, OperationError
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from lifecycle.registry.client import RegistryClient


@dataclass
class RetireResult:
    tagbase: str
    folder: str
    removed_files: list[str]
    message: str
    consumers: list[dict[str, Any]] = field(default_factory=list)
    commit: str | None = None     # None on a dry run
    dry_run: bool = False
    # the end-of-life referrer on each published digest ({digest, tags, status, date}); [] without a registry
    end_of_life: list[dict[str, Any]] = field(default_factory=list)


def tag_of_tagbase(tag: str, tagbase: str) -> bool:
    """Is `tag` one of `tagbase`'s own tags (bare, -staging, -latest, immutable)?"""
    if tag == tagbase:
        return True
    if not tag.startswith(tagbase + "-"):
        return False
    rest = tag[len(tagbase):]
    return rest in ("-staging", "-latest") or bool(IMMUTABLE_SUFFIX_RE.fullmatch(rest))


def consumers_of(usage: Usage, tagbase: str) -> list[dict[str, Any]]:
    """References in the usage file to this image's tags (or, without references, the tags themselves)."""
    found = [r for r in usage.references if r.get("tag") and tag_of_tagbase(str(r["tag"]), tagbase)]
    if found or usage.references:
        return [{k: r.get(k) for k in ("repository", "file", "line", "reference", "class")} for r in found]
    return [{"repository": None, "file": None, "line": None, "reference": t, "class": None}
            for t in sorted(usage.tags) if tag_of_tagbase(t, tagbase)]


def remove_catalog_entry(text: str, tagbase: str, filename: str = catalog_mod.CATALOG_PATH) -> str:
    """The catalogue text without `tagbase`'s list item (its catalogue name: `<repository>:<tag base>` outside
    the default repository); everything else byte-identical."""
    catalog = catalog_mod.parse_catalog(text, filename)
    wanted = catalog.image(tagbase)   # InputError naming the catalogue when unknown
    repository = catalog.repository_of(wanted)
    document = yamlio.load_text(text, filename)
    images = document.get("images") if document is not None else None
    index = next((i for i, entry in enumerate(images or []) if entry.get("tagBase") == wanted.tag
                  and (entry.get("repository") or catalog.repository) == repository), None)
    if index is None:
        raise InputError(f"no image with tag base {tagbase!r}", Location(filename))
    lines = text.splitlines(keepends=True)
    start, col = images.lc.item(index)
    dash = lines[start].rfind("-", 0, col + 1) if start < len(lines) else -1
    if dash < 0 or lines[start][:dash].strip():
        raise InputError("the images list is not in block style (one `- tagBase:` item per entry); remove the "
                         "entry by hand", Location(filename, start + 1))
    end = start + 1
    while end < len(lines) and not (lines[end].strip() and _indent(lines[end]) <= dash):
        end += 1
    while end - 1 > start and (not lines[end - 1].strip() or
                               (lines[end - 1].lstrip().startswith("#") and _indent(lines[end - 1]) <= dash)):
        end -= 1  # trailing blank lines and comments at item level belong to what follows
    kept = lines[:start] + lines[end:]
    before = kept[start - 1] if start > 0 else ""
    if start < len(kept) and not kept[start].strip() and (not before.strip() or before.rstrip().endswith(":")):
        del kept[start]  # no double blank line, and no blank line right under `images:`
    result = "".join(kept)
    _check_removed(catalog, result, tagbase, filename)
    return result


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _check_removed(before: catalog_mod.Catalog, new: str, tagbase: str, filename: str) -> None:
    after = catalog_mod.parse_catalog(new, filename)
    expected = [i for i in before.images if i.tagbase != tagbase]
    same = [(i.tagbase, i.folder, i.platform, i.build_args, i.eol) for i in expected] == \
           [(i.tagbase, i.folder, i.platform, i.build_args, i.eol) for i in after.images]
    if not same or (before.registry, before.repository) != (after.registry, after.repository):
        raise OperationError(f"removing {tagbase} from {filename} would change other entries; nothing changed")


def retire(root: Path, tagbase: str, *, usage: Usage | None = None, dry_run: bool = False,
           client: RegistryClient | None = None, today: dt.date | None = None) -> RetireResult:
    """Remove `tagbase` from the catalogue and src/ in one commit. With `client`, first mark every published
    digest of it end of life (the catalogue's `eol` date, else today) in the registry: were the commit made
    first and the registry then failed, no re-run could find the image to mark."""
    root = Path(root)
    ws = Workspace.load(WorkTree(root), strict=False)
    image = ws.catalog.image(tagbase)  # InputError (exit 2) when unknown
    assert ws.graph is not None
    children = ws.graph.children.get(tagbase, [])
    if children:
        raise InputError(f"cannot retire {tagbase}: {', '.join(children)} build FROM it; retire or re-base "
                         f"{'them' if len(children) > 1 else 'it'} first", Location(image.dockerfile))
    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(f"{root} is not a git repository") from None
    catalog_file = catalog_mod.CATALOG_PATH
    shared_in = [t.tag for t in ws.catalog.shared if t.is_index and tagbase in t.tagbases]
    if shared_in:
        raise InputError(f"cannot retire {tagbase}: the multi-platform shared tag(s) {', '.join(shared_in)} "
                         f"list it; remove it from sharedTags first", Location(catalog_mod.CATALOG_PATH))
    own_files = _own_files(ws, image)
    dirty = repo.index.diff("HEAD") if repo.head.is_valid() else []
    if dirty:
        raise InputError(f"changes are staged ({', '.join(d.a_path for d in dirty[:5])}); retire commits only "
                         f"its own change: commit or unstage them first")
    if any(repo.is_dirty(index=False, working_tree=True, path=p) for p in (catalog_file, image.folder)):
        raise InputError(f"{catalog_file} or {image.folder} has uncommitted changes; commit or revert them first")

    text = (root / catalog_file).read_text(encoding="utf-8")
    new_text = remove_catalog_entry(text, tagbase, catalog_file)
    consumers = consumers_of(usage, image.tag) if usage else []   # the usage file names tags as pushed
    message = _message(tagbase, image.folder, own_files, ws.policy.retired_grace_days, consumers, usage)
    result = RetireResult(tagbase, image.folder, own_files, message, consumers, None, dry_run)
    if client is not None:
        repository = ws.catalog.repository_of(image)
        tags = [t for t in client.tags(repository) if tag_of_tagbase(t, image.tag)]
        when = image.eol or today or dt.date.today()
        result.end_of_life = [m.as_dict() for m in mark_end_of_life(client, repository, tags, when,
                                                                    dry_run=dry_run)]
    if dry_run:
        return result
    (root / catalog_file).write_text(new_text, encoding="utf-8")
    tracked = set(repo.git.ls_files("--", image.folder).splitlines())
    if tracked & set(own_files):
        repo.index.remove(sorted(tracked & set(own_files)), working_tree=True)
    for rel in own_files:
        (root / rel).unlink(missing_ok=True)
    _prune_dirs(root, root / image.folder)
    repo.index.add([catalog_file])
    result.commit = repo.index.commit(message).hexsha
    return result


def _own_files(ws: Workspace, image: ImageSpec) -> list[str]:
    """Files under the image's folder that no other image's folder contains. A folder other images build
    too (other platforms, other build args) stays: only a Dockerfile no one else builds goes with it."""
    folder = image.folder
    others = [i for i in ws.catalog.images if i.tagbase != image.tagbase]
    if any(i.folder == folder for i in others):
        used = {i.dockerfile for i in others}
        return [image.dockerfile] if image.dockerfile not in used and ws.source.exists(image.dockerfile) else []
    nested = [i.folder.rstrip("/") + "/" for i in others if i.folder != folder]
    return [f for f in ws.source.files_under(folder) if not any(f.startswith(o) for o in nested)]


def _prune_dirs(root: Path, folder: Path) -> None:
    """Remove the image's folder if empty, and empty parents up to src/."""
    current = folder
    while current != root and current.is_dir() and not any(current.iterdir()):
        shutil.rmtree(current)
        current = current.parent
        if current.name == "src" and current.parent == root:
            break


def _message(tagbase: str, folder: str, files: list[str], grace: int, consumers: list[dict[str, Any]],
             usage: Usage | None) -> str:
    lines = [f"Retire {tagbase}", "",
             f"Remove {tagbase} from {catalog_mod.CATALOG_PATH} and its build context {folder}/ "
             f"({len(files)} file{'s' if len(files) != 1 else ''}).",
             "Its registry tags are deleted by `lifecycle cleanup` once its newest build is older than the "
             f"retired grace period ({grace} days); references in the usage file keep theirs."]
    if usage is not None:
        lines += ["", f"Consumers still using it ({len(consumers)}, from {usage.path}):" if consumers
                  else f"No consumer uses it (according to {usage.path})."]
        for c in consumers:
            where = f"{c['repository']}: {c['file']}:{c['line']}" if c.get("file") else "(tag only)"
            lines.append(f"- {where} {c['reference']}")
    return "\n".join(lines) + "\n"
