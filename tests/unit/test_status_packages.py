"""The OS package diff of -latest against -staging (status/packages_diff.py), the installed-list parser and the
check script's installed section run in a real shell, and how the page and terminal show the result."""

from __future__ import annotations

import subprocess

from lifecycle.packages import PackageChecker, PackageReport, PendingUpdate
from lifecycle.packages.check import FAMILY, INSTALLED, INSTALLED_END, dispatch_script
from lifecycle.packages.parsers import parse_installed
from lifecycle.status.model import ImageDiff, PackageChange
from lifecycle.status.packages_diff import NOT_ASKED, package_changes, prefetch, read_packages
from lifecycle.status.render_changes import changes_block
from lifecycle.status.render_html import render_page
from tests.unit.test_status_render import fleet, image

OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def report(installed: dict[str, str], pending=(), error: str = "", family: str | None = "apt") -> PackageReport:
    return PackageReport(digest="", os="Debian GNU/Linux 12 (bookworm)", family=family, pending=list(pending),
                         error=error, installed=installed)


def test_installed_lists_of_each_family():
    assert parse_installed("apt", "libc6 2.36-9+deb12u4\nlibc6 2.36-9+deb12u4\nbroken\n\nzlib1g 1:1.2.13.dfsg-1\n") == {
        "libc6": "2.36-9+deb12u4", "zlib1g": "1:1.2.13.dfsg-1"}
    assert parse_installed("tdnf", "openssl 3.3.0-1.azl3\nbash 5.2.15-3.azl3\n") == {
        "openssl": "3.3.0-1.azl3", "bash": "5.2.15-3.azl3"}
    assert parse_installed("apk", "musl-1.2.5-r0\nlibcrypto3-3.3.2-r1\nWARNING: x\n") == {
        "musl": "1.2.5-r0", "libcrypto3": "3.3.2-r1"}


def test_the_installed_section_runs_in_a_real_shell(tmp_path):
    # a fake dpkg-query on PATH: the section must call it and frame its output, before the pending check
    fake = tmp_path / "dpkg-query"
    fake.write_text("#!/bin/sh\nprintf 'libc6 2.36-9\\nbash 5.2.15-3\\n'\n")
    fake.chmod(0o755)
    script = dispatch_script()
    part = 'fam=apt\n' + script[script.index(f"echo {INSTALLED}"): script.index(INSTALLED_END)] + f"echo {INSTALLED_END}\n"
    done = subprocess.run(["sh", "-c", part], capture_output=True, text=True, timeout=30,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    listing = done.stdout.split(INSTALLED, 1)[1].split(INSTALLED_END, 1)[0]
    assert parse_installed("apt", listing) == {"libc6": "2.36-9", "bash": "5.2.15-3"}
    assert script.index(FAMILY) < script.index(INSTALLED) < script.index("apt-get")


def test_changes_are_the_versions_that_differ_security_from_latests_pending_check():
    latest = report({"libc6": "2.36-9", "tzdata": "2024a-0", "bash": "5.2.15-3", "gone": "1"},
                    [PendingUpdate("libc6", "2.36-9", "2.36-9+deb12u4", "Debian-Security:12/stable-security", True),
                     PendingUpdate("tzdata", "2024a-0", "2025b-0", "Debian:12/stable-updates", False)])
    staging = report({"libc6": "2.36-9+deb12u4", "tzdata": "2025b-0", "bash": "5.2.15-3", "new": "2"})
    assert package_changes(latest, staging) == [
        PackageChange("gone", "1", None, False), PackageChange("libc6", "2.36-9", "2.36-9+deb12u4", True),
        PackageChange("new", None, "2", False), PackageChange("tzdata", "2024a-0", "2025b-0", False)]
    failed = report(latest.installed, error="apt check exited 3: Failed to fetch")
    assert {c.security for c in package_changes(failed, staging)} == {None}  # not known, not "no"


def checker(reports: dict[str, PackageReport]) -> PackageChecker:
    # the checker's own cache: these digests were checked earlier in the run (no engine is asked again)
    return PackageChecker(engine=None, cache=dict(reports))  # type: ignore[arg-type]


def diff() -> ImageDiff:
    return ImageDiff("x-amd64", OLD, NEW, "a" * 40, "b" * 40, same=False)


def test_read_packages_fills_the_diff_or_says_why_not():
    d = diff()
    read_packages(d, None, "reg/x")
    assert d.packages is None and d.packages_note == NOT_ASKED
    d = diff()
    read_packages(d, checker({OLD: report({"a": "1"}), NEW: report({"a": "2"})}), "reg/x")
    assert d.packages == [PackageChange("a", "1", "2", False)]
    assert d.packages_note == "Debian GNU/Linux 12 (bookworm): read inside both images"
    d = diff()
    read_packages(d, checker({OLD: report({}, family=None), NEW: report({"a": "2"})}), "reg/x")
    assert d.packages is None and d.packages_note.startswith("not read: -latest has no known package manager")
    d = diff()
    read_packages(d, checker({OLD: report({"a": "1"}), NEW: report({}, error="exec failed")}), "reg/x")
    assert d.packages is None and d.packages_note == "not read: the package list of -staging could not be read (exec failed)"
    d = diff()
    read_packages(d, checker({OLD: report({"a": "1"}, error="no servers"), NEW: report({"a": "1"})}), "reg/x")
    assert d.packages == [] and d.packages_note.startswith("security not known")


def test_prefetch_asks_for_each_distinct_digest_once():
    asked: list[list[str]] = []

    class Counting(PackageChecker):
        def check_many(self, name, digests):
            asked.append(sorted(set(digests)))

    same = ImageDiff("y", NEW, NEW, None, None, same=True)
    prefetch(Counting(engine=None), "reg/x", [diff(), diff(), same])  # type: ignore[arg-type]
    assert asked == [[OLD, NEW]]


def test_the_page_shows_the_packages_security_first_or_that_they_were_not_read():
    d = diff()
    d.packages = [PackageChange("tzdata", "2024a-0", "2025b-0", False), PackageChange("libc6", "2.36-9", "2.36-10", True),
                  PackageChange("new<b>", None, "1", False)]
    d.packages_note = "Debian: read inside both images"
    html = changes_block(image("x-amd64", "pending", changes=d))
    assert html.index('data-package="libc6" class="security"') < html.index('data-package="tzdata"')
    assert "<caption>3 OS packages change version, 1 with a security fix</caption>" in html
    assert "new<b>" not in html and "new&lt;b&gt;" in html and "not installed" in html
    unread = diff()
    unread.packages_note = NOT_ASKED
    assert "OS packages: not read (--packages reads them" in changes_block(image("x-amd64", "pending", changes=unread))
    status = fleet()
    assert "OS package lists not read (--packages reads them)." in render_page(status)
    status.packages_checked = True
    assert "OS package lists read inside the images" in render_page(status)
