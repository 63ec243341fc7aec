"""Floating tags in the rollout: which target moves wait (dates read from production's first-parent
history), and the merged floating.yml the rollout merge carries.

Production's history is the record of what was served when: a snapshot per commit that changed the
catalogue or the floating tags, with its commit date. Nothing else is stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ruamel.yaml import YAML

from lifecycle.catalogue.catalog import CATALOG_PATH, parse_catalog

from lifecycle.catalogue.policy import Policy
from lifecycle.catalogue.source import cat_file_batch, run_git
from lifecycle.errors import InputError
from lifecycle.catalogue.floating import FLOATING_PATH, FloatingHold, compute_holds, parse
from lifecycle.production.revert_holds import promoted_values, reverted

DEFAULT_HISTORY = 400


@dataclass(frozen=True)
class Snapshot:
    sha: str
    date: dt.date
    images: frozenset[str]
    floating: Mapping[str, str]       # floating tag -> target


def snapshots(root: Path, production: str, limit: int = DEFAULT_HISTORY) -> list[Snapshot]:
    """Newest first: production's first-parent commits that changed the catalogue or the floating tags."""
    log = run_git(root, "log", "--first-parent", f"--max-count={limit}", "--format=%H %cI", production, "--",
               CATALOG_PATH, FLOATING_PATH).decode().split()
    commits = list(zip(log[0::2], log[1::2]))
    blobs = cat_file_batch(root, [f"{sha}:{path}" for sha, _ in commits for path in (CATALOG_PATH, FLOATING_PATH)])
    out = []
    for i, (sha, when) in enumerate(commits):
        catalog_text, floating_text = blobs[2 * i], blobs[2 * i + 1]
        try:
            images = frozenset(parse_catalog(catalog_text.decode(), CATALOG_PATH).tagbases) if catalog_text else \
                frozenset()
            floating = {f.tag: f.target for f in parse(floating_text.decode())} if floating_text else {}
        except (InputError, UnicodeDecodeError):
            break  # an unreadable past ends the record: nothing older is trusted
        out.append(Snapshot(sha, dt.datetime.fromisoformat(when).astimezone(dt.timezone.utc).date(), images,
                            floating))
    return out


def first_seen_in(history: list[Snapshot]) -> Callable[[Callable[[frozenset[str], Mapping[str, str]], bool]],
                                                          dt.date | None]:
    """FirstSeen over `history` (newest first): the date of the oldest snapshot of the unbroken run of
    snapshots, starting at the newest, for which the predicate holds."""
    def first_seen(predicate: Callable[[frozenset[str], Mapping[str, str]], bool]) -> dt.date | None:
        since = None
        for snap in history:
            if not predicate(snap.images, snap.floating):
                break
            since = snap.date
        return since
    return first_seen


def merged_text(candidate: str, production: str, holds: Mapping[str, FloatingHold]) -> str:
    """main@C's floating.yml with each held entry's lines replaced by production's (or removed): every
    other byte stays as main wrote it."""
    cand_spans = _entry_spans(candidate)
    prod_spans = _entry_spans(production) if production else {}
    prod_lines = production.splitlines(keepends=True)
    lines = candidate.splitlines(keepends=True)
    for tag, (start, end) in sorted(cand_spans.items(), key=lambda kv: -kv[1][0]):
        if tag not in holds:
            continue
        replacement = prod_lines[prod_spans[tag][0]:prod_spans[tag][1]] if tag in prod_spans else []
        lines[start:end] = replacement
    return "".join(lines)


def _entry_spans(text: str) -> dict[str, tuple[int, int]]:
    """tag -> [first line, end line) of its entry in the floatingTags list (0-based)."""
    doc = YAML(typ="rt").load(text)
    seq = (doc or {}).get("floatingTags") or []
    starts = [seq.lc.item(i)[0] for i in range(len(seq))]
    total = len(text.splitlines())
    spans = {}
    for i, entry in enumerate(seq):
        end = starts[i + 1] if i + 1 < len(starts) else total
        spans[str(entry["tag"])] = (starts[i], end)
    return spans


@dataclass(frozen=True)
class FloatingPlan:
    holds: dict[str, FloatingHold]
    files: dict[str, str]             # what the rollout tree writes instead of main's (path -> text)
    changes_production: bool = False  # the merged floating.yml differs from production's


def plan_floating(root: Path, production: str, rollouts: Iterable[tuple[str, str]], candidate: str,
                  policy: Policy, today: dt.date, refused: Callable[[str], str | None] | None = None) -> FloatingPlan:
    """The holds of main@C's floating tags against production, and the floating.yml the merge carries.
    `rollouts`: production's rollouts, newest first (GitOps.rollouts), for the targets last rolled out.
    `refused(target)`: why the tag may not move to that target's digest (the provenance gate), else None."""
    cand_text, prod_text = _floating_texts(root, [candidate, production])
    if cand_text is None:
        return FloatingPlan({}, {})
    prod_text = prod_text or ""
    prod_tags, cand_tags = parse(prod_text) if prod_text else (), parse(cand_text)
    promoted = promoted_values(rollouts, lambda sha: targets_at(root, sha))
    held = reverted({f.tag: f.target for f in prod_tags}, promoted, {f.tag: f.target for f in cand_tags})
    holds = compute_holds(prod_tags, set(held), cand_tags, policy, first_seen_in(snapshots(root, production)), today)
    if refused is not None:
        serving = {f.tag: f.target for f in prod_tags}
        for f in cand_tags:
            reason = None if f.tag in holds or serving.get(f.tag) == f.target else refused(f.target)
            if reason:
                holds[f.tag] = FloatingHold(f.tag, reason, f.target, serving.get(f.tag))
    text = merged_text(cand_text, prod_text, holds) if holds else cand_text
    return FloatingPlan(holds, {FLOATING_PATH: text}, text != prod_text)


def targets_at(root: Path, sha: str) -> dict[str, str]:
    """floating tag -> target at a commit (none without floating.yml; an unreadable file counts as none:
    the history it would tell is not trusted)."""
    text = _floating_texts(root, [sha])[0]
    try:
        return {f.tag: f.target for f in parse(text)} if text else {}
    except InputError:
        return {}


def _floating_texts(root: Path, commits: list[str | None]) -> list[str | None]:
    """floating.yml at each commit (None: no such file, or no commit), read with one git process."""
    wanted = [c for c in commits if c]
    found = dict(zip(wanted, cat_file_batch(root, [f"{c}:{FLOATING_PATH}" for c in wanted])))
    return [found[c].decode("utf-8", "replace") if c and found.get(c) is not None else None for c in commits]
