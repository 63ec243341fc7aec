"""The last rollouts: production's first-parent line, newest first, read from git alone.

A rollout merge (any merge whose other parents are on main, as gitops.py counts them) is "promoted", or
"held" when its message lists held images; a revert on production (message with "This reverts commit")
is "reverted". Which images moved and which were held comes from the message rollout.merge_message writes.
"""

from __future__ import annotations

import datetime as dt
import re

from lifecycle.production.gitops import REVERT_MARK, GitOps, Hold
from lifecycle.status.model import RevertCommit, Rollout

PROMOTED_HEAD = "Promoted (latest moves):"
HELD_HEAD = "Held (production keeps its files):"
ITEM_RE = re.compile(r"^- (?P<image>[^\s:]+):")
REVERTS_RE = re.compile(re.escape(REVERT_MARK) + r" ([0-9a-f]{7,40})")


def _section(message: str, heading: str) -> list[str]:
    lines = message.splitlines()
    if heading not in lines:
        return []
    out = []
    for line in lines[lines.index(heading) + 1:]:
        m = ITEM_RE.match(line)
        if not m:
            break
        out.append(m.group("image"))
    return out


def recent_rollouts(ops: GitOps, production: str, main: str, count: int = 12, walk: int = 1000) -> list[Rollout]:
    events: list[Rollout] = []
    for sha in ops.first_parent(production, walk):
        commit = ops.repo.commit(sha)
        message = str(commit.message)
        when = dt.datetime.fromtimestamp(commit.committed_date, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        subject = str(commit.summary)
        if REVERT_MARK in message:
            m = REVERTS_RE.search(message)
            events.append(Rollout(sha, when, subject, "reverted", reverts=m.group(1) if m else None))
        elif len(commit.parents) >= 2 and all(ops.is_ancestor(p.hexsha, main) for p in commit.parents[1:]):
            held = _section(message, HELD_HEAD)
            events.append(Rollout(sha, when, subject, "held" if held else "promoted", commit.parents[1].hexsha,
                                  _section(message, PROMOTED_HEAD), held))
        if len(events) >= count:
            break
    return events


def utc_time(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def hold_reverts(ops: GitOps, production: str, holds: dict[str, Hold], walk: int = 200) -> dict[str, RevertCommit]:
    """tagbase -> the production commit that made it held: the newest commit on production's first-parent
    line that changed its definition (rollouts that held it since keep it, so they are passed over); a
    child held with its parent gets the parent's. Read from git because a Hold does not carry it;
    definitions are compared, not messages, so a hand-edited revert is judged by what it did."""
    wanted = {t for t, h in holds.items() if h.parent is None}
    found: dict[str, RevertCommit] = {}
    definitions: dict[str, dict[str, str]] = {}

    def defs(sha: str) -> dict[str, str]:
        if sha not in definitions:
            definitions[sha] = ops.workspace(sha).definitions
        return definitions[sha]

    for sha in ops.first_parent(production, walk) if wanted else []:
        commit = ops.repo.commit(sha)
        if not commit.parents:
            break
        before, after = defs(commit.parents[0].hexsha), defs(sha)
        for tagbase in sorted(wanted - set(found)):
            if after.get(tagbase) != before.get(tagbase):
                found[tagbase] = RevertCommit(sha, str(commit.author.name), str(commit.author.email),
                                              utc_time(commit.authored_date), str(commit.summary))
        if len(found) == len(wanted):
            break
    for tagbase, hold in holds.items():
        if hold.parent is not None and hold.parent in found:
            found[tagbase] = found[hold.parent]
    return found
