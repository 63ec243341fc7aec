"""Floating tags scoped to a .NET version (`alpine-net9.0-helix-amd64`): which image each one serves.

The target of a floating tag is chosen in git (manifests/floating.yml), like any change, and the rollout
moves the tag to the target's LKG by digest, like `-latest`. A move to a new target waits:

- evaluation: the target's first rollout (the first production commit from which it has been in the
  catalogue) must be at least `evaluationDays` old; for a servicing .NET version, the newest version's
  floating tag of the same line must have moved to the same distro that long ago;
- stability: inside the last `stabilityDays` before the .NET version's end of life the target never changes;
- revert: a target reverted on production stays reverted, through any number of rollouts, until main chooses
  another one or the revert is reverted.

A held floating tag keeps production's entry in the rollout merge, so it goes on following its current
target's LKG (patched rebuilds still reach it); only the change of target waits. Every date is derived from
git (commit dates on production's first-parent line), nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Callable, Collection, Mapping

from lifecycle import yamlio
from lifecycle.catalogue.catalog import TAG_RE, Catalog
from lifecycle.catalogue.policy import Policy
from lifecycle.catalogue.schema import check_schema
from lifecycle.errors import InputError, Location
from lifecycle.catalogue.source import TreeSource

FLOATING_PATH = "manifests/floating.yml"
NET_RE = re.compile(r"net(\d+\.\d+)")


@dataclass(frozen=True)
class FloatingTag:
    tag: str
    target: str          # the tag base it serves
    dotnet: str          # the .NET version it is scoped to, "9.0"
    line: int | None = None

    def line_key(self) -> str:
        """The tag with its .NET version taken out: floating tags of one line differ only there."""
        return self.tag.replace(f"net{self.dotnet}", "net*")

    def as_entry(self) -> dict[str, str]:
        return {"tag": self.tag, "target": self.target, "dotnet": self.dotnet}


@dataclass(frozen=True)
class FloatingHold:
    tag: str
    reason: str
    wanted: str | None            # main's target
    serving: str | None           # production's target, which the tag keeps following
    until: dt.date | None = None  # when the move becomes possible; None: when main changes it

    def as_row(self) -> dict[str, str | None]:
        return {"tag": self.tag, "wanted": self.wanted, "serving": self.serving, "reason": self.reason,
                "until": self.until.isoformat() if self.until else None}


def parse(text: str, filename: str = FLOATING_PATH) -> tuple[FloatingTag, ...]:
    document = yamlio.load_text(text, filename)
    if document is None:
        return ()
    plain = yamlio.to_plain(document)
    check_schema(document, plain, "floating", filename)
    tags = []
    for index, entry in enumerate(plain.get("floatingTags") or ()):
        line, _ = yamlio.position(document, ["floatingTags", index])
        tags.append(FloatingTag(entry["tag"], entry["target"], str(entry["dotnet"]), line))
    return tuple(tags)


def load(source: TreeSource) -> tuple[FloatingTag, ...]:
    """The floating tags of a tree; none when the file does not exist."""
    data = source.read(FLOATING_PATH)
    if data is None:
        return ()
    try:
        return parse(data.decode("utf-8"), FLOATING_PATH)
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", Location(FLOATING_PATH)) from None


def problems(tags: tuple[FloatingTag, ...], catalog: Catalog, policy: Policy,
             today: dt.date) -> list[tuple[str, int | None, str]]:
    """(message, line, severity) for every rule a floating tag breaks."""
    out: list[tuple[str, int | None, str]] = []
    taken = {t for i in catalog.images for t in (i.tagbase, i.staging_tag(), i.latest_tag(), *i.shared_tags)}
    seen: dict[str, int | None] = {}
    for f in tags:
        if f.tag in seen:
            out.append((f"floating tag {f.tag!r} is declared twice (also line {seen[f.tag]})", f.line, "error"))
        seen.setdefault(f.tag, f.line)
        if not TAG_RE.match(f.tag):
            out.append((f"{f.tag!r} is not a valid tag", f.line, "error"))
        if f.tag in taken:
            out.append((f"floating tag {f.tag!r} is also a tag of an image in {catalog.path}", f.line, "error"))
        if f"net{f.dotnet}" not in f.tag:
            out.append((f"floating tag {f.tag!r} is scoped to .NET {f.dotnet} but does not name net{f.dotnet}",
                        f.line, "error"))
        eol = policy.dotnet_versions.get(f.dotnet)
        if eol is None:
            known = ", ".join(sorted(policy.dotnet_versions, key=version_key)) or "none"
            out.append((f".NET {f.dotnet} is not in dotnetVersions of {policy.path} (known: {known})",
                        f.line, "error"))
        elif eol < today:
            out.append((f".NET {f.dotnet} reached end of life on {eol}: retire floating tag {f.tag!r}",
                        f.line, "warning"))
        image = catalog.get(f.target)
        if image is None:
            out.append((f"floating tag {f.tag!r}: target {f.target!r} is not a tag base in {catalog.path}",
                        f.line, "error"))
            continue
        if image.past_eol(today):
            out.append((f"floating tag {f.tag!r}: target {f.target} reached end of life on {image.eol}",
                        f.line, "error"))
        target_net = set(NET_RE.findall(f.target))
        if target_net and f.dotnet not in target_net:
            out.append((f"floating tag {f.tag!r} is .NET {f.dotnet} but its target {f.target} is "
                        f".NET {', '.join(sorted(target_net))}", f.line, "error"))
        arch, target_arch = f.tag.rsplit("-", 1)[-1], f.target.rsplit("-", 1)[-1]
        if arch != target_arch and (is_arch(arch) or is_arch(target_arch)):
            out.append((f"floating tag {f.tag!r} ({arch}) points at {f.target} ({target_arch}): another "
                        f"architecture", f.line, "error"))
    return out


ARCH_NAMES = {"amd64", "x64", "arm64", "arm64v8", "arm", "arm32", "arm32v7", "armv7", "x86", "386",
              "s390x", "ppc64le", "riscv64"}


def is_arch(word: str) -> bool:
    return word in ARCH_NAMES


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def distro_key(tagbase: str) -> str:
    """The image line without its .NET version: 'alpine-3.21-net9.0-helix-amd64' -> 'alpine-3.21-helix-amd64'."""
    return re.sub(r"-?net\d+\.\d+", "", tagbase)


# FirstSeen(predicate) -> the commit date from which `predicate(catalog tags, floating tags)` has held on
# production's first-parent line without a break up to its head; None when it does not hold at the head.
FirstSeen = Callable[[Callable[[frozenset[str], Mapping[str, str]], bool]], dt.date | None]


def compute_holds(production: tuple[FloatingTag, ...], reverted: Collection[str],
                  candidate: tuple[FloatingTag, ...], policy: Policy, first_seen: FirstSeen,
                  today: dt.date) -> dict[str, FloatingHold]:
    """Which of main@C's floating tags must keep production's target, and until when. `reverted`: the
    floating tags whose target was reverted on production and main has not changed since (derived from
    production's history by the caller, by the rule images follow: production/revert_holds.py)."""
    prod = {f.tag: f for f in production}
    by_line: dict[str, list[FloatingTag]] = {}
    for f in candidate:
        by_line.setdefault(f.line_key(), []).append(f)
    holds: dict[str, FloatingHold] = {}
    for f in candidate:
        current = prod.get(f.tag)
        serving = current.target if current else None
        if serving == f.target:
            continue
        hold = (_reverted(f, serving, reverted) or _stability(f, serving, policy, today)
                or _evaluation(f, serving, policy, first_seen, today)
                or _servicing(f, serving, by_line.get(f.line_key(), []), policy, first_seen, today))
        if hold is not None:
            holds[f.tag] = hold
    return holds


def _reverted(f: FloatingTag, serving: str | None, reverted: Collection[str]) -> FloatingHold | None:
    if f.tag not in reverted:
        return None
    return FloatingHold(f.tag, f"target {f.target} was reverted on production since it was last rolled out; "
                               f"main has not changed it since", f.target, serving)


def _stability(f: FloatingTag, serving: str | None, policy: Policy, today: dt.date) -> FloatingHold | None:
    eol = policy.dotnet_versions.get(f.dotnet)
    if serving is None or eol is None:
        return None  # a new floating tag has nothing to keep stable
    frozen = eol - dt.timedelta(days=policy.stability_days)
    if today >= frozen:
        return FloatingHold(f.tag, f"stability period: .NET {f.dotnet} reaches end of life on {eol}; its floating "
                                   f"tags do not move after {frozen}", f.target, serving)
    return None


def _evaluation(f: FloatingTag, serving: str | None, policy: Policy, first_seen: FirstSeen,
                today: dt.date) -> FloatingHold | None:
    since = first_seen(lambda images, _floating: f.target in images)
    possible = (since or today) + dt.timedelta(days=policy.evaluation_days)
    if possible <= today:
        return None
    when = f"first rolled out on {since}" if since else "not rolled out yet"
    return FloatingHold(f.tag, f"evaluation period: {f.target} {when}; {policy.evaluation_days} days must pass",
                        f.target, serving, possible)


def _servicing(f: FloatingTag, serving: str | None, line: list[FloatingTag], policy: Policy,
               first_seen: FirstSeen, today: dt.date) -> FloatingHold | None:
    """A servicing version's tag follows the in-development version's tag of the same line, a period later."""
    newer = [g for g in line if version_key(g.dotnet) > version_key(f.dotnet)]
    if not newer:
        return None
    lead = max(newer, key=lambda g: version_key(g.dotnet))
    distro = distro_key(f.target)
    since = first_seen(lambda _images, floating: distro_key(floating.get(lead.tag, "")) == distro)
    if since is None:
        return FloatingHold(f.tag, f"servicing .NET {f.dotnet} moves after .NET {lead.dotnet}: {lead.tag} does not "
                                   f"serve {distro} in production yet", f.target, serving)
    possible = since + dt.timedelta(days=policy.evaluation_days)
    if possible <= today:
        return None
    return FloatingHold(f.tag, f"servicing .NET {f.dotnet}: {lead.tag} moved to {distro} on {since}; "
                               f"{policy.evaluation_days} days must pass", f.target, serving, possible)


def merged(candidate: tuple[FloatingTag, ...], production: tuple[FloatingTag, ...],
           holds: Mapping[str, FloatingHold]) -> tuple[FloatingTag, ...]:
    """main@C's floating tags, with production's entry (or none) for each held one."""
    prod = {f.tag: f for f in production}
    out = []
    for f in candidate:
        if f.tag not in holds:
            out.append(f)
        elif f.tag in prod:
            out.append(prod[f.tag])
    return tuple(out)
