"""When pending updates make an image stale: the policy's patch window, with and without the upgrade step."""

from __future__ import annotations

import datetime as dt

from lifecycle.catalogue.catalog import ImageSpec, parse_catalog

from lifecycle.catalogue.policy import Policy, parse_policy
import json

from lifecycle.build.osupgrade import label_key, upgrade_label
from lifecycle.packages.report import APT, PackageReport, PendingUpdate
from lifecycle.packages.rules import left_after_upgrade, pending_reason, window_note
from lifecycle.errors import InputError
from lifecycle.catalogue.platform import Platform

import pytest

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 1, tzinfo=UTC)
POLICY = Policy(("*",), "org.test")
IMAGE = ImageSpec("debian-12-app-amd64", "src/debian/12/app/amd64", Platform("linux", "amd64"))


def report(security: int, other: int = 0) -> PackageReport:
    pending = [PendingUpdate(f"sec{i}", "1", "2", "Debian-Security:12/oldstable-security", True) for i in range(security)]
    pending += [PendingUpdate(f"other{i}", "1", "2", "Debian:12.12/oldstable", False) for i in range(other)]
    return PackageReport(digest="sha256:x", os="Debian", family=APT, pending=pending)


def test_without_the_step_any_pending_security_update_is_stale_at_once():
    reason = pending_reason(report(7), {}, IMAGE, POLICY, NOW)
    assert reason == ("7 security updates pending (sec0, sec1, sec2, sec3, sec4, ...); built without the OS "
                      "upgrade step: set osUpgrade or refresh the base")
    wanting = ImageSpec(IMAGE.tagbase, IMAGE.folder, IMAGE.platform, os_upgrade=True)
    assert pending_reason(report(1), {}, wanting, POLICY, NOW) == \
        "1 security update pending (sec0); the rebuild adds the OS upgrade step"


def test_with_the_step_the_window_is_max_security_patch_days():
    labels = upgrade_label(POLICY, NOW - dt.timedelta(days=3))
    assert pending_reason(report(2), labels, IMAGE, POLICY, NOW) is None
    assert "within the 7-day window of the OS upgrade of 2026-11-28" in window_note(report(2), labels, POLICY, NOW)
    old = upgrade_label(POLICY, NOW - dt.timedelta(days=9))
    assert pending_reason(report(2), old, IMAGE, POLICY, NOW) == \
        "2 security updates pending (sec0, sec1); last OS upgrade 9 days ago, policy allows 7"
    strict = Policy(("*",), "org.test", max_security_patch_days=0)
    assert pending_reason(report(1), upgrade_label(strict, NOW - dt.timedelta(hours=1)), IMAGE, strict, NOW)


def test_non_security_updates_count_only_when_the_policy_says_so():
    assert pending_reason(report(0, 3), {}, IMAGE, POLICY, NOW) is None
    counting = Policy(("*",), "org.test", count_non_security_updates=True)
    assert pending_reason(report(0, 3), {}, IMAGE, counting, NOW).startswith("3 updates pending (other0, other1, other2)")
    assert pending_reason(report(1, 2), {}, IMAGE, counting, NOW).startswith(
        "1 security update pending (sec0) and 2 other updates;")


def test_unchecked_or_failed_checks_give_no_verdict():
    assert pending_reason(PackageReport(os="BusyBox"), {}, IMAGE, POLICY, NOW) is None
    assert pending_reason(PackageReport(family=APT, error="exit 3"), {}, IMAGE, POLICY, NOW) is None
    assert pending_reason(report(0), {}, IMAGE, POLICY, NOW) is None


def test_policy_and_catalogue_keys_parse_and_default():
    policy = parse_policy("approvedBases: ['*']\nlabelPrefix: org.test\n")
    assert (policy.max_security_patch_days, policy.count_non_security_updates, policy.os_upgrade) == (7, False, False)
    policy = parse_policy("approvedBases: ['*']\nlabelPrefix: org.test\nmaxSecurityPatchDays: 2\n"
                          "countNonSecurityUpdates: true\nosUpgrade: true\n")
    assert (policy.max_security_patch_days, policy.count_non_security_updates, policy.os_upgrade) == (2, True, True)
    with pytest.raises(InputError) as bad:
        parse_policy("approvedBases: ['*']\nlabelPrefix: org.test\nmaxSecurityPatchDays: -1\n", "policy.yml")
    assert any(problem.startswith("policy.yml:3:") and "maxSecurityPatchDays" in problem
               for problem in bad.value.problems), bad.value.problems
    catalog = parse_catalog("registry: r:1\nrepository: x/y\nimages:\n"
                            "  - {tagBase: a-1-amd64, dockerfile: src/a, platform: {os: linux, architecture: amd64},"
                            " osUpgrade: true}\n"
                            "  - {tagBase: b-1-amd64, dockerfile: src/b, platform: {os: linux, architecture: amd64}}\n")
    assert [i.os_upgrade for i in catalog.images] == [True, None]
    with pytest.raises(InputError):
        parse_catalog("registry: r:1\nrepository: x/y\nimages:\n  - {tagBase: a-1-amd64, dockerfile: src/a, "
                      "platform: {os: linux, architecture: amd64}, osUpgrade: sometimes}\n")


def test_a_step_that_did_not_fail_closed_is_no_window_for_pending_security_updates():
    # the label an upgrade step wrote before it failed on an unreadable index: within the window, yet stale
    labels = {label_key(POLICY): json.dumps({"time": "2026-11-30T00:00:00Z", "record": "x"})}
    reason = pending_reason(report(15), labels, IMAGE, POLICY, NOW)
    assert reason == ("15 security updates pending (sec0, sec1, sec10, sec11, sec12, ...) that the OS upgrade of "
                      "2026-11-30 should have applied (its step did not fail when the package index could not be "
                      "fetched)")
    assert "within" not in window_note(report(15), labels, POLICY, NOW)
    assert pending_reason(report(0, 3), labels, IMAGE, POLICY, NOW) is None  # other updates: the window holds


def test_publish_refuses_an_upgraded_image_with_security_updates_left():
    assert left_after_upgrade(report(0, 2)) is None
    assert left_after_upgrade(report(2)) == "2 security updates still pending after the OS upgrade step (sec0, sec1)"
    failed = PackageReport(digest="", family=APT, error="apt check exited 3: Err:1 http://deb.debian.org")
    assert left_after_upgrade(failed) == ("the package check inside the new image could not run: "
                                          "apt check exited 3: Err:1 http://deb.debian.org")
    assert left_after_upgrade(PackageReport(os="BusyBox")) is None  # no package manager: nothing to upgrade
