"""The packages installed in an image, for its SBOM: one read-only container, no package servers.

The package databases are read with the image's own tools where they exist (dpkg-query, rpm) and Alpine's
database file directly (plain text, so no apk needed). A tool counts only beside its database: busybox
ships `rpm` and `dpkg` applets that would answer for a system that has no packages. Images without a shell (scratch, distroless) or
without a package database (busybox) have an empty inventory: the SBOM then says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lifecycle.build.engine import Engine
from lifecycle.errors import OperationError
from lifecycle.packages.report import OsRelease

RELEASE, PACKAGES = "@@lifecycle-os-release@@", "@@lifecycle-packages@@"
NO_SHELL = "no shell in the image"

SCRIPT = rf"""echo {RELEASE}
if [ -r /etc/os-release ]; then cat /etc/os-release; elif [ -r /usr/lib/os-release ]; then cat /usr/lib/os-release; fi
echo {PACKAGES}
if [ -r /var/lib/dpkg/status ] && command -v dpkg-query >/dev/null 2>&1; then
  dpkg-query -W -f='deb\t${{Package}}\t${{Version}}\t${{Architecture}}\n' || exit 3
elif {{ [ -d /var/lib/rpm ] || [ -d /usr/lib/sysimage/rpm ]; }} && command -v rpm >/dev/null 2>&1; then
  rpm -qa --qf 'rpm\t%{{NAME}}\t%{{VERSION}}-%{{RELEASE}}\t%{{ARCH}}\n' || exit 3
elif [ -r /lib/apk/db/installed ]; then
  awk -F: '/^P:/{{p=substr($0,3)}} /^V:/{{v=substr($0,3)}} /^A:/{{a=substr($0,3)}}
    /^$/{{if(p!="")print "apk\t"p"\t"v"\t"a; p=""}} END{{if(p!="")print "apk\t"p"\t"v"\t"a}}' \
    /lib/apk/db/installed || exit 3
fi
"""


@dataclass(frozen=True)
class Package:
    kind: str       # purl type: deb | rpm | apk
    name: str
    version: str
    arch: str = ""


@dataclass
class Inventory:
    """What is installed in one image; `note` says why it is empty when it is."""
    os_id: str = ""
    os_version: str = ""
    os_pretty: str = ""
    packages: list[Package] = field(default_factory=list)
    note: str = ""


def parse(output: str) -> Inventory:
    """The script's output: os-release, then tab-separated `kind name version arch` rows."""
    if RELEASE not in output:
        return Inventory(note=NO_SHELL)
    text = output.split(RELEASE, 1)[1]
    release_text, _, listing = text.partition(PACKAGES)
    release = OsRelease.parse(release_text)
    packages = []
    for line in listing.splitlines():
        parts = line.rstrip("\r").split("\t")
        if len(parts) >= 3 and parts[0] in ("deb", "rpm", "apk") and parts[1]:
            packages.append(Package(parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else ""))
    found = Inventory(release.id, release.version_id, release.pretty if release.fields else "",
                      sorted(set(packages), key=lambda p: (p.kind, p.name, p.arch, p.version)))
    if not packages:
        found.note = "no package database"
    return found


def installed_packages(engine: Engine, ref: str, *, timeout: float = 120.0) -> Inventory:
    """The inventory of the local image `ref`. Raises OperationError when the listing itself fails: an SBOM
    written from a failed listing would claim an image holds nothing."""
    try:
        result = engine.run_test(ref, SCRIPT, timeout=timeout)
    except OperationError as exc:
        if 'exec: "sh"' in str(exc) or "executable file not found" in str(exc):
            return Inventory(note=NO_SHELL)
        raise
    if result.exit_code != 0:
        raise OperationError(f"listing the packages in {ref} exited {result.exit_code}: "
                             f"{result.output.strip()[-400:]}")
    return parse(result.output)
