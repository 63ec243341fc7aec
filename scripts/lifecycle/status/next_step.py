"""What happens next to an image, in words: the answer to "what comes next" for each state.

One function per state, over what collect.py already read; nothing here reads git or the registry. The
hold sentence is built in one place (hold_step) so a richer Hold (its own revert commit) changes only it.
"""

from __future__ import annotations

import re

from typing import Iterable

from lifecycle.production.provenance_gate import REASON_PREFIX as PROVENANCE_HOLD
from lifecycle.status.model import (CURRENT, EOL, HELD, PENDING, RETIRING, STALE, UNPUBLISHED, ChannelState,
                                    FloatingTagHold, ImageStatus, RevertCommit)

LIFT = "lifted by a new definition on main or reverting the revert"
# a provenance hold is about the digest, not the definition: no revert lifts it
LIFT_PROVENANCE = ("lifted once the digest to promote carries provenance that verifies (republish it from main; "
                   "lifecycle verify <image>@<digest> shows why it does not)")
LIFT_WITH_PARENT = "lifted with its parent's hold"

# stale.py's reasons carry whole references and digests; a row shows what kind of change it was
_SHORT = (
    (re.compile(r"^base (\S+) changed \(.*\)$"), "base changed"),
    (re.compile(r"^parent (\S+?)-(?:staging|latest) changed \(.*\)$"), r"parent \1 changed"),
    (re.compile(r"^parent (\S+?)-(?:staging|latest) is not published$"), r"parent \1 not published"),
    (re.compile(r"^base (\S+) no longer exists in its registry$"), "base gone from its registry"),
    (re.compile(r"^base (\S+) cannot be resolved: .*$"), "base cannot be resolved"),
    (re.compile(r"^built (\d+) days ago, older than the (\d+)-day max age$"), r"older than \2 days"),
    (re.compile(r"^parent (.+) (?:is|are) stale$"), r"parent \1 stale"),
    # the gate's reason ends in the verifier's own words; the detail panel shows them
    (re.compile(r"^(provenance: [^(]*?) \(.*$"), r"\1"),
)


def short_reason(reason: str) -> str:
    for pattern, text in _SHORT:
        if pattern.match(reason):
            return pattern.sub(text, reason)
    return reason


def _day(iso: str | None) -> str:
    return iso[:10] if iso else "an unknown date"


def hold_step(image: ImageStatus) -> str:
    """"held: <revert commit> by <author> on <date>; lifted by ..." (the reason when no commit was found)."""
    revert: RevertCommit | None = image.revert
    if revert is None:
        return f"held: {short_reason(image.hold or '')}; {_lift(image.hold or '')}"
    via = image.hold if image.hold and image.hold.startswith("its parent") else None
    return (f"held: {revert.sha[:10]} by {revert.author} on {_day(revert.time)}"
            + (f" ({via})" if via else "") + f"; {LIFT}")


def _lift(reason: str) -> str:
    if reason.startswith(PROVENANCE_HOLD):
        return LIFT_PROVENANCE
    return LIFT_WITH_PARENT if reason.startswith("its parent ") else LIFT


def _stale_step(latest: ChannelState, staging: ChannelState) -> str:
    if staging.digest and staging.digest != latest.digest and staging.stale == "current":
        return f"stale: the next rollout promotes -staging (built {_day(staging.created)})"
    reasons = latest.reasons
    if any(r.startswith("definition changed") or r == "no definition label" for r in reasons):
        return "stale: the next publish from main rebuilds it, the next rollout promotes it"
    if any("set osUpgrade or refresh the base" in r for r in reasons):
        return "stale: needs an osUpgrade on main (or a base approval) before a rebuild helps"
    if any(r.startswith("base ") and "changed" in r for r in reasons):
        return f"stale: the nightly rebuild picks it up (base changed after {_day(latest.created)})"
    if any(r.startswith("parent ") for r in reasons):
        return "stale: the nightly rebuild rebuilds it with its parent"
    if any(r.startswith("base ") for r in reasons):
        return "stale: its base needs a fix or a new approval on main"
    return "stale: the nightly rebuild picks it up"


# catalogue/floating.py's hold reasons start with the rule that holds the tag
_WAITS = (("evaluation period", "evaluation period"), ("servicing", "servicing period"))


def _period(hold: FloatingTagHold) -> str | None:
    """The waiting period a held floating tag is in ("evaluation period"), None when it waits on no date."""
    return next((period for prefix, period in _WAITS if hold.reason.startswith(prefix) and hold.until), None)


def floating_step(hold: FloatingTagHold) -> str:
    """A held floating tag: "waiting: evaluation period until <date>" while a period runs, else why it stays."""
    period = _period(hold)
    if period:
        return f"waiting: {period} until {hold.until}; then the rollout moves it to {hold.wanted}"
    if hold.reason.startswith("servicing"):
        return "waiting: the in-development version's floating tag moves to this distro first"
    if hold.reason.startswith("stability period"):
        return f"frozen: stays on {hold.serving} until its .NET version's end of life"
    if hold.reason.startswith("target ") and "reverted" in hold.reason:
        return f"held: reverted on production; {LIFT}"
    return f"held: {hold.reason}"


def _waiting_for(image: ImageStatus, floating: Iterable[FloatingTagHold]) -> str | None:
    """The image is the new target of floating tags in their evaluation (or servicing) period."""
    waits = sorted((h.until or "", _period(h) or "", h.tag) for h in floating
                   if h.wanted == image.tagbase and _period(h))
    if not waits:
        return None
    until, period, _ = waits[0]
    tags = ", ".join(sorted({tag for u, _, tag in waits if u == until}))
    return f"waiting: {period} until {until} ({tags} then moves to it)"


def next_step(image: ImageStatus, floating: Iterable[FloatingTagHold] = ()) -> str:
    """The image's own next step; a current image some floating tag waits to serve says until when."""
    step = _own_step(image)
    waiting = _waiting_for(image, floating)
    if waiting is None:
        return step
    return waiting if image.state == CURRENT else f"{step}; {waiting}"


def _own_step(image: ImageStatus) -> str:
    if image.state == RETIRING:
        return "retiring: removed on main; the next rollout drops it"
    if image.state == HELD:
        return hold_step(image)
    if image.state == EOL:
        return f"end of life {image.eol} passed: retire it (lifecycle retire) or extend its end of life on main"
    if image.state == UNPUBLISHED:
        return "unpublished: the next publish from main builds -staging"
    if image.state == STALE:
        return _stale_step(image.latest, image.staging)
    if image.state == PENDING:
        return ("pending: new on main, the next rollout promotes it" if not image.in_production
                else "pending: the next rollout promotes it")
    assert image.state == CURRENT
    return "current: nothing to do"
