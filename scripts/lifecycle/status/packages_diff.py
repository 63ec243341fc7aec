"""The OS packages that change version between what `-latest` serves and what `-staging` serves.

Publish records no package list, so both lists are read inside the images, through the same check publish
and stale run (packages/check.py: one throw-away container per digest, which also prints what is installed).
The PackageChecker caches by digest, so a page listing many images runs each distinct image once. A change
counts as a security fix when -latest's own check has a security update pending for that package: what a
consumer of -latest lacks today and gets at the next rollout.
"""

from __future__ import annotations

from lifecycle.packages import PackageChecker, PackageReport
from lifecycle.status.model import ImageDiff, PackageChange

NOT_ASKED = "not read (--packages reads them: one container run per distinct image)"


def security_text(security: bool | None) -> str:
    return "security" if security else "not known" if security is None else ""


def package_changes(latest: PackageReport, staging: PackageReport) -> list[PackageChange]:
    """Every package whose installed version differs (added or removed ones too), by name."""
    pending = {p.name: p for p in latest.pending}
    changes = []
    for name in sorted({*latest.installed, *staging.installed}):
        old, new = latest.installed.get(name), staging.installed.get(name)
        if old == new:
            continue
        security = (name in pending and pending[name].security) if latest.checked else None
        changes.append(PackageChange(name, old, new, security))
    return changes


def _unreadable(channel: str, report: PackageReport) -> str | None:
    """Why `report` holds no package list to compare, or None."""
    if report.family is None:
        return f"not read: {channel} has {report.summary()}"
    if not report.installed:
        return f"not read: the package list of {channel} could not be read ({report.error or 'empty listing'})"
    return None


def read_packages(diff: ImageDiff, checker: PackageChecker | None, name: str) -> None:
    """Fill diff.packages (and packages_note) from both digests' package lists; `name` is registry/repository."""
    if checker is None:
        diff.packages_note = NOT_ASKED
        return
    if diff.latest is None or diff.staging is None:
        diff.packages_note = "not read: " + ("-latest" if diff.latest is None else "-staging") + " is not published"
        return
    checker.check_many(name, [diff.latest, diff.staging])  # both at once (cached ones are not run again)
    latest, staging = checker.check(name, diff.latest), checker.check(name, diff.staging)
    for channel, report in (("-latest", latest), ("-staging", staging)):
        why = _unreadable(channel, report)
        if why:
            diff.packages_note = why
            return
    diff.packages = package_changes(latest, staging)
    if not latest.checked:
        diff.packages_note = f"security not known: the pending-updates check in -latest failed ({latest.error})"
    elif not diff.packages:
        diff.packages_note = f"{staging.os or staging.family}: no package changes version"
    else:
        diff.packages_note = f"{staging.os or staging.family}: read inside both images"


def prefetch(checker: PackageChecker, name: str, diffs: list[ImageDiff]) -> None:
    """Check every digest the diffs compare, a few at a time (the checker's concurrency), each digest once."""
    digests = [d for diff in diffs if not diff.same for d in (diff.latest, diff.staging) if d]
    checker.check_many(name, digests)
