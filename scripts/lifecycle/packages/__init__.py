"""OS packages inside an image: which updates are pending, and which of them are security fixes.

`check_image(engine, ref)` runs a read-only check in a throw-away container of the image (host network, so
the distribution's package servers are reachable) and returns a `PackageReport`. The family comes from
/etc/os-release in the image: apt (Debian, Ubuntu), tdnf (Azure Linux, CBL-Mariner), dnf (Fedora, RHEL-like),
apk (Alpine). Parsers are pure functions over the tools' text (parsers.py), tested against recorded outputs.
"""

from lifecycle.packages.check import PackageChecker, check_image
from lifecycle.packages.report import OsRelease, PackageReport, PendingUpdate, family_of

__all__ = ["PackageChecker", "check_image", "OsRelease", "PackageReport", "PendingUpdate", "family_of"]
