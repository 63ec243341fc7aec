"""Run the package check inside an image: read-only, in a throw-away container on the host network.

Two containers per image: the first reads /etc/os-release (the family decides the second), the second asks
the package manager what it would upgrade. Nothing is written to the image: containers are removed, and the
apt check keeps its package lists, cache and extra sources in a temporary folder of the container. The image's
own sources often list only the release (an un-refreshed Debian base lists `bookworm` alone), which would hide
exactly the fixes we look for, so the apt check adds the distribution's security and updates suites for its
own `apt-get update`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lifecycle.engine import Engine
from lifecycle.errors import OperationError
from lifecycle.packages import parsers
from lifecycle.packages.report import APK, APT, DNF, TDNF, OsRelease, PackageReport, PendingUpdate, family_of

BEGIN, SPLIT = "@@lifecycle-begin@@", "@@lifecycle-security@@"
OS_RELEASE = "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release"
DEFAULT_TIMEOUT = 300.0
DEBIAN_MIRROR = "http://deb.debian.org"

# Noisy steps log to a file that is shown only when they fail; the listing is framed by markers.
_APT = r"""set -u
d=$(mktemp -d) && mkdir -p "$d/lists/partial" "$d/parts" "$d/cache/archives/partial" || exit 3
cp /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources "$d/parts/" 2>/dev/null
printf '%s\n' @EXTRA@ > "$d/parts/zz-lifecycle-updates.list"
set -- -o "Dir::Etc::SourceParts=$d/parts" -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" \
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root -o Acquire::Retries=3
if ! apt-get "$@" -q update > "$d/log" 2>&1 || grep -q '^[WE]: Failed to fetch' "$d/log"; then
  cat "$d/log"; exit 3
fi
echo @BEGIN@
apt-get "$@" -s -q dist-upgrade 2>&1
"""
_TDNF = r"""tdnf -q makecache > /tmp/lifecycle.log 2>&1 || { cat /tmp/lifecycle.log; exit 3; }
echo @BEGIN@
tdnf -q list updates 2>&1
"""
_DNF = r"""dnf -q makecache > /tmp/lifecycle.log 2>&1 || { cat /tmp/lifecycle.log; exit 3; }
echo @BEGIN@
dnf -q check-update 2>&1
echo @SPLIT@
dnf -q updateinfo list --security 2>&1
"""
_APK = r"""apk update -q > /tmp/lifecycle.log 2>&1 || { cat /tmp/lifecycle.log; exit 3; }
echo @BEGIN@
apk version -l '<' 2>&1
"""


def apt_extra_sources(release: OsRelease, debian_mirror: str = DEBIAN_MIRROR) -> list[str]:
    """The security and updates suites of the image's release, which an un-refreshed image may not list."""
    codename = release.codename
    if not codename or codename in ("sid", "unstable"):
        return []
    if release.id == "ubuntu" or "ubuntu" in release.id_like:
        return [f"deb http://security.ubuntu.com/ubuntu {codename}-security main universe",
                f"deb http://archive.ubuntu.com/ubuntu {codename}-updates main universe"]
    return [f"deb {debian_mirror}/debian-security {codename}-security main",
            f"deb {debian_mirror}/debian {codename}-updates main"]


def check_script(family: str, release: OsRelease, debian_mirror: str = DEBIAN_MIRROR) -> str:
    if family == APT:
        extra = " ".join(f"'{line}'" for line in apt_extra_sources(release, debian_mirror)) or "'# none'"
        return _APT.replace("@EXTRA@", extra).replace("@BEGIN@", BEGIN)
    template = {TDNF: _TDNF, DNF: _DNF, APK: _APK}[family]
    return template.replace("@BEGIN@", BEGIN).replace("@SPLIT@", SPLIT)


def parse_listing(family: str, release: OsRelease, output: str) -> list[PendingUpdate]:
    listing = output.split(BEGIN, 1)[1] if BEGIN in output else output
    if family == APT:
        return parsers.parse_apt(listing)
    if family == TDNF:
        return parsers.parse_tdnf(listing)
    if family == DNF:
        updates, _, security = listing.partition(SPLIT)
        return parsers.parse_dnf(updates, security)
    return parsers.parse_apk(listing, stable_branch=not any(x in release.version_id for x in ("edge", "_alpha")))


def check_image(engine: Engine, ref: str, *, timeout: float = DEFAULT_TIMEOUT,
                debian_mirror: str = DEBIAN_MIRROR) -> PackageReport:
    """Pending updates in the image `ref` (name@digest or name:tag; pulled when absent, removed again).

    Never raises for a check that cannot run: the report's `error` says why (no verdict either way).
    """
    started = time.monotonic()
    report = PackageReport(digest=ref.rpartition("@")[2] if "@" in ref else "")
    pulled = False
    try:
        if engine.image_id(ref) is None:
            engine.pull(ref)
            pulled = True
        result = engine.run_test(ref, OS_RELEASE, timeout=60, network="none")
        release = OsRelease.parse(result.output) if result.passed else OsRelease({})
        report.os = release.pretty if result.passed else ""
        report.family = family_of(release)
        if report.family is not None:
            result = engine.run_test(ref, check_script(report.family, release, debian_mirror), timeout=timeout,
                                     network="host")
            if result.exit_code not in (0, 100) or BEGIN not in result.output:  # dnf check-update: 100 = found
                report.error = f"{report.family} check exited {result.exit_code}: {result.output.strip()[-400:]}"
            else:
                report.pending = parse_listing(report.family, release, result.output)
    except OperationError as e:
        report.error = str(e)
    finally:
        if pulled:
            try:
                engine.remove(ref)
            except OperationError:
                pass  # a leftover image costs disk, not correctness
    report.seconds = time.monotonic() - started
    return report


@dataclass
class PackageChecker:
    """check_image with results cached by image digest for one run (many tags share a digest)."""

    engine: Engine
    timeout: float = DEFAULT_TIMEOUT
    debian_mirror: str = DEBIAN_MIRROR
    cache: dict[str, PackageReport] = field(default_factory=dict)

    def check(self, name: str, digest: str) -> PackageReport:
        """`name` is registry/repository, `digest` the single-platform manifest digest."""
        if digest not in self.cache:
            self.cache[digest] = check_image(self.engine, f"{name}@{digest}", timeout=self.timeout,
                                             debian_mirror=self.debian_mirror)
        return self.cache[digest]
