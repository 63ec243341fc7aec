"""`import-manifest --update`: apply upstream's changes to an existing catalogue as a minimal diff.

Upstream owns what an import maps (each entry's repository, dockerfile, platform, buildArgs, sharedTags;
the catalogue-level sharedTags and aliases); the team owns everything else (tests, owners, endOfLife,
osUpgrade, exclusions, comments, the policy and floating.yml). So the fresh import is compared with the
catalogue entry by entry on upstream's keys only: an unchanged entry keeps its lines byte for byte, a
changed one is rewritten with the team's keys carried over (comments inside it are lost), a removed one
is deleted, an added one appended; a top-level block is replaced only when its value changed. Running it
again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifecycle import yamlio
from lifecycle.catalogue.catalog import qualified
from lifecycle.catalogue.catalog_splice import splice_entries

UPSTREAM_KEYS = ("repository", "dockerfile", "platform", "buildArgs", "sharedTags")
UPSTREAM_BLOCKS = ("aliases", "sharedTags", "excluded")


@dataclass(frozen=True)
class Change:
    change: str   # "added" | "removed" | "changed"
    name: str     # catalogue name, or a top-level key
    what: str
    dockerfile: str = ""   # a removed entry's, so the import can remove its copied folder


def _plain_entries(plain: dict[str, Any]) -> dict[str, dict[str, Any]]:
    default = str(plain.get("repository", ""))
    return {qualified(str(e.get("repository") or default), str(e["tagBase"]), default): e
            for e in plain.get("images") or []}


def _upstream(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in UPSTREAM_KEYS if k in entry}


def sync_catalog(local_text: str, fresh_text: str, filename: str) -> tuple[str, list[Change]]:
    """The local catalogue with upstream's changes from `fresh_text` (a full import rendering) applied."""
    local = yamlio.to_plain(yamlio.load_text(local_text, filename))
    fresh = yamlio.to_plain(yamlio.load_text(fresh_text, filename))
    mine, theirs = _plain_entries(local), _plain_entries(fresh)
    changes: list[Change] = []
    for name, entry in theirs.items():
        if name not in mine:
            changes.append(Change("added", name, f"{entry['dockerfile']} {_platform(entry)}"))
        elif _upstream(mine[name]) != _upstream(entry):
            keys = [k for k in UPSTREAM_KEYS if mine[name].get(k) != entry.get(k)]
            changes.append(Change("changed", name, ", ".join(f"{k}: {mine[name].get(k)} -> {entry.get(k)}"
                                                             for k in keys)))
    changes += [Change("removed", name, "no longer in the upstream manifest", str(entry.get("dockerfile", "")))
                for name, entry in mine.items() if name not in theirs]
    text = splice_entries(local_text, fresh_text, [c.name for c in changes]) if changes else local_text
    for key in UPSTREAM_BLOCKS:
        if local.get(key) != fresh.get(key):
            text = _replace_block(text, fresh_text, key, filename)
            changes.append(Change("changed", key, f"{_count(local.get(key))} -> {_count(fresh.get(key))} entries"))
    return text, changes


def _platform(entry: dict[str, Any]) -> str:
    p = entry.get("platform") or {}
    return "/".join(str(p[k]) for k in ("os", "architecture", "variant") if p.get(k))


def _count(value: Any) -> int:
    return len(value) if isinstance(value, (list, dict)) else 0


def _blocks(text: str, filename: str) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """(lines, top-level key -> (first line index, one past its last line))."""
    doc = yamlio.load_text(text, filename)
    lines = text.splitlines(keepends=True)
    keys = list(doc.keys())
    starts = [doc.lc.key(k)[0] for k in keys]
    spans = {}
    for i, key in enumerate(keys):
        end = starts[i + 1] if i + 1 < len(keys) else len(lines)
        while end > starts[i] + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1   # blank lines and comments before the next key stay where they are
        spans[key] = (starts[i], end)
    return lines, spans


def _replace_block(text: str, fresh_text: str, key: str, filename: str) -> str:
    lines, spans = _blocks(text, filename)
    fresh_lines, fresh_spans = _blocks(fresh_text, filename)
    new = fresh_lines[slice(*fresh_spans[key])] if key in fresh_spans else []
    if key in spans:
        start, end = spans[key]
    else:  # a new block goes where the import writes it: before images
        start = end = spans["images"][0]
    lines[start:end] = new
    return "".join(lines)
