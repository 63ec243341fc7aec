"""When pending updates make a published image stale (policy maxSecurityPatchDays, countNonSecurityUpdates).

The package servers do not say when a fix was published, so the clock is the image's own:
- an image built with the OS upgrade step (label `<labelPrefix>.os-upgrade`) had every fix published before
  that step ran; a pending fix is at most `now - step` old. It is stale once that exceeds
  maxSecurityPatchDays: no pending fix has waited longer than the policy allows;
- an image built without the step carries whatever its base carried: its pending fixes may be of any age,
  so it is stale as soon as one is pending. Its remedies are a refreshed base or `osUpgrade`;
- an image whose step label lacks `failClosed` had a step that succeeded even when the package index could not
  be fetched: a pending security update is one that step should have applied, so it is stale at once.
"""

from __future__ import annotations

import datetime as dt

from lifecycle.build import osupgrade
from lifecycle.catalogue.catalog import ImageSpec
from lifecycle.catalogue.policy import Policy
from lifecycle.packages.report import PackageReport


def _names(report: PackageReport, security_only: bool) -> str:
    chosen = report.security if security_only else report.pending
    top = report.top(5, security_only=security_only)
    return ", ".join(top) + (", ..." if len(chosen) > len(top) else "")


def pending_reason(report: PackageReport, labels: dict[str, str], image: ImageSpec, policy: Policy,
                   now: dt.datetime) -> str | None:
    """The stale reason the check gives this image, or None (up to date, within the window, or unchecked)."""
    if not report.checked:
        return None
    security = len(report.security)
    other = len(report.pending) - security
    counted = security + (other if policy.count_non_security_updates else 0)
    if counted == 0:
        return None
    if security:
        what = f"{security} security update{'s' if security != 1 else ''} pending ({_names(report, True)})"
        if policy.count_non_security_updates and other:
            what += f" and {other} other update{'s' if other != 1 else ''}"
    else:
        what = f"{other} update{'s' if other != 1 else ''} pending ({_names(report, False)})"
    step = osupgrade.upgraded_at(labels, policy)
    if step is not None and security and not osupgrade.fail_closed(labels, policy):
        # a step that could succeed without the package index (apt only warns) may have upgraded nothing:
        # what is pending now is what it should have applied, however recent its label
        return (f"{what} that the OS upgrade of {step:%Y-%m-%d} should have applied "
                "(its step did not fail when the package index could not be fetched)")
    if step is None:
        remedy = ("the rebuild adds the OS upgrade step" if policy.wants_os_upgrade(image)
                  else "built without the OS upgrade step: set osUpgrade or refresh the base")
        return f"{what}; {remedy}"
    age = now - step
    if age <= dt.timedelta(days=policy.max_security_patch_days):
        return None
    return f"{what}; last OS upgrade {age.days} days ago, policy allows {policy.max_security_patch_days}"


def left_after_upgrade(report: PackageReport) -> str | None:
    """Why an image just built with the OS upgrade step must not be pushed, or None."""
    if report.error:
        return f"the package check inside the new image could not run: {report.error}"
    if report.security:
        n = len(report.security)
        return (f"{n} security update{'s' if n != 1 else ''} still pending after the OS upgrade step "
                f"({', '.join(sorted(p.name for p in report.security))})")
    return None


def window_note(report: PackageReport, labels: dict[str, str], policy: Policy, now: dt.datetime) -> str:
    """What the check found, for the report even when it is no stale reason."""
    note = report.summary()
    step = osupgrade.upgraded_at(labels, policy)
    if report.checked and report.pending and step is not None and \
            (osupgrade.fail_closed(labels, policy) or not report.security) and \
            now - step <= dt.timedelta(days=policy.max_security_patch_days):
        note += f"; within the {policy.max_security_patch_days}-day window of the OS upgrade of {step:%Y-%m-%d}"
    return note
