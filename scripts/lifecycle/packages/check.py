"""Run the package check inside an image: read-only, in a throw-away container on the host network.

One container per image: it prints /etc/os-release, picks the family from its ID and ID_LIKE (the same table
as `family_of`, written into the script) and asks that package manager what it would upgrade; Python parses
both parts. One container, not two, because with the vfs storage driver every container copies the image's
whole file system. Nothing is written to the image: containers are removed, and the
apt check keeps its package lists, cache and extra sources in a temporary folder of the container. The image's
own sources often list only the release (an un-refreshed Debian base lists `bookworm` alone), which would hide
exactly the fixes we look for, so the apt check adds the distribution's security and updates suites for its
own `apt-get update`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lifecycle.build.engine import Engine
from lifecycle.errors import OperationError
from lifecycle.packages import parsers
from lifecycle.packages.report import (APK, APT, BY_ID, DNF, TDNF, OsRelease, PackageReport, PendingUpdate,
                                       family_of)

BEGIN, SPLIT, RELEASE, FAMILY = ("@@lifecycle-begin@@", "@@lifecycle-security@@", "@@lifecycle-os-release@@",
                                 "@@lifecycle-family@@")
INSTALLED, INSTALLED_END = "@@lifecycle-installed@@", "@@lifecycle-installed-end@@"
# What is installed, one `name version` a line; read before the pending check, which needs the package
# servers, so a diff of two images' versions works even when those cannot be reached.
_INSTALLED = {
    APT: r"dpkg-query -W -f='${Package} ${Version}\n' 2>/dev/null",
    TDNF: r"rpm -qa --qf '%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n' 2>/dev/null",
    DNF: r"rpm -qa --qf '%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n' 2>/dev/null",
    APK: "apk info -v 2>/dev/null",
}
DEFAULT_TIMEOUT = 300.0
NO_SHELL = "no shell to read /etc/os-release"
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


def dispatch_script(debian_mirror: str = DEBIAN_MIRROR) -> str:
    """The whole check as one shell script: os-release, the family's check, framed by markers."""
    cases = "\n".join(f"    {'|'.join(sorted(i for i, f in BY_ID.items() if f == fam))}) fam={fam}; break ;;"
                      for fam in sorted(set(BY_ID.values())))
    branches = "\n".join(f"  {fam})\n{_indent(_family_script(fam, debian_mirror))}\n  ;;"
                         for fam in sorted(set(BY_ID.values())))
    installed = "\n".join(f"  {fam}) {command} ;;" for fam, command in sorted(_INSTALLED.items()))
    return f"""echo {RELEASE}
if [ -r /etc/os-release ]; then f=/etc/os-release; else f=/usr/lib/os-release; fi
cat "$f" 2>/dev/null || exit 0
. "$f"
fam=
for id in $ID ${{ID_LIKE:-}}; do
  case "$id" in
{cases}
  esac
done
echo "{FAMILY}$fam"
echo {INSTALLED}
case "$fam" in
{installed}
esac
echo {INSTALLED_END}
case "$fam" in
{branches}
esac
"""


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.rstrip("\n").splitlines())


def _family_script(family: str, debian_mirror: str) -> str:
    """The family's check; the apt one builds its extra suites from the os-release variables at run time."""
    if family == APT:
        extra = ("$(if [ \"$ID\" = ubuntu ] || echo \" ${ID_LIKE:-} \" | grep -q ' ubuntu '; then "
                 "printf 'deb http://security.ubuntu.com/ubuntu %s-security main universe\\ndeb "
                 "http://archive.ubuntu.com/ubuntu %s-updates main universe' \"$VERSION_CODENAME\" "
                 "\"$VERSION_CODENAME\"; elif [ -n \"${VERSION_CODENAME:-}\" ] && [ \"$VERSION_CODENAME\" != sid ]; "
                 f"then printf 'deb {debian_mirror}/debian-security %s-security main\\ndeb {debian_mirror}/debian "
                 "%s-updates main' \"$VERSION_CODENAME\" \"$VERSION_CODENAME\"; fi)")
        return _APT.replace("@EXTRA@", f'"{extra}"').replace("@BEGIN@", BEGIN)
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
        try:
            result = engine.run_test(ref, dispatch_script(debian_mirror), timeout=timeout, network="host")
        except OperationError as e:
            if 'exec: "sh"' not in str(e):
                raise
            report.os = NO_SHELL  # distroless, scratch: no package manager to ask either
            return report
        if RELEASE not in result.output:
            report.os = NO_SHELL
            return report
        text = result.output.split(RELEASE, 1)[1]
        release = OsRelease.parse(text.split(FAMILY, 1)[0])
        report.os = release.pretty if release.fields else ""
        report.family = family_of(release)
        if report.family is not None and INSTALLED_END in text:
            listing = text.split(INSTALLED, 1)[1].split(INSTALLED_END, 1)[0]
            report.installed = parsers.parse_installed(report.family, listing)
        if report.family is not None:
            if result.exit_code not in (0, 100) or BEGIN not in text:  # dnf check-update: 100 = updates found
                report.error = f"{report.family} check exited {result.exit_code}: {text.strip()[-400:]}"
            else:
                report.pending = parse_listing(report.family, release, text)
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
    # a check mostly waits on package servers: a few at once, so a catalogue of hundreds stays in minutes
    concurrency: int = 4
    cache: dict[str, PackageReport] = field(default_factory=dict)

    def check_many(self, name: str, digests: list[str]) -> None:
        """Check the digests not yet cached, `concurrency` at a time (results land in the cache)."""
        todo = sorted(set(digests) - set(self.cache))
        if len(todo) <= 1 or self.concurrency <= 1:
            for digest in todo:
                self.check(name, digest)
            return
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            reports = list(pool.map(lambda d: check_image(self.engine, f"{name}@{d}", timeout=self.timeout,
                                                          debian_mirror=self.debian_mirror), todo))
        self.cache.update(zip(todo, reports))

    def check(self, name: str, digest: str) -> PackageReport:
        """`name` is registry/repository, `digest` the single-platform manifest digest."""
        if digest not in self.cache:
            self.cache[digest] = check_image(self.engine, f"{name}@{digest}", timeout=self.timeout,
                                             debian_mirror=self.debian_mirror)
        return self.cache[digest]
