"""Parsers for the package managers' "what would be upgraded" output. Pure functions over text.

apt:  `apt-get -s dist-upgrade` lines `Inst <pkg> [<installed>] (<candidate> <origin>[, <origin>] [<arch>])`,
      origin `Label:Version/Archive`, e.g. `Debian-Security:12/oldstable-security`. A security update is one
      whose candidate comes from a security archive (label or archive naming "security").
tdnf: `tdnf -q list updates` lines `<name>.<arch> <version> <repository>` (a long name may wrap the rest onto
      the next line). Azure Linux and CBL-Mariner publish no update classification, so every pending tdnf
      update counts as a security update (Microsoft's own patch tooling does the same on Azure Linux).
dnf:  `dnf -q check-update` (same columns as tdnf) and `dnf -q updateinfo list --security` lines
      `<advisory> <severity>/Sec. <name>-<[epoch:]version>-<release>.<arch>`.
apk:  `apk version -l '<'` lines `<name>-<version>-r<N> < <new version>`. apk has no per-package origin;
      Alpine's stable branches receive only security and critical fixes, so on a stable branch every pending
      update counts as a security update, on edge none does.
"""

from __future__ import annotations

import re

from lifecycle.packages.report import PendingUpdate

_APT_INST = re.compile(r"^Inst (?P<name>\S+) \[(?P<installed>[^\]]+)\] \((?P<candidate>\S+) (?P<origins>.*?) "
                       r"\[(?P<arch>[^\]]+)\]\)")
_ARCHES = ("x86_64", "aarch64", "noarch", "i686", "armv7hl", "ppc64le", "s390x", "src")


def parse_apt(text: str) -> list[PendingUpdate]:
    found = []
    for line in text.splitlines():
        m = _APT_INST.match(line.strip())
        if not m:
            continue  # "Inst x (...)" without [installed] is a new dependency, not an update
        origins = [o.strip() for o in m["origins"].split(",") if o.strip()]
        found.append(PendingUpdate(m["name"], m["installed"], m["candidate"], ", ".join(origins),
                                   any(_apt_security(o) for o in origins)))
    return _unique(found)


def _apt_security(origin: str) -> bool:
    label, _, rest = origin.partition(":")
    archive = rest.partition("/")[2]
    return "security" in label.lower() or archive.endswith("-security") or archive.endswith("/updates")


def _split_columns(text: str) -> list[tuple[str, str, str]]:
    """`name.arch version repo` rows; a row whose name is too long continues on the next line."""
    rows, pending = [], []
    for line in text.splitlines():
        words = line.split()
        if not words or line.startswith(("Loaded plugin", "Last metadata", "Obsoleting", "Security:", "Refreshing")):
            if line.startswith("Obsoleting"):
                break
            continue
        words = pending + words
        if len(words) < 3:
            pending = words if _is_package(words[0]) else []
            continue
        pending = []
        if _is_package(words[0]):
            rows.append((words[0], words[1], words[2]))
    return rows


def _is_package(word: str) -> bool:
    return "." in word and word.rsplit(".", 1)[1] in _ARCHES


def parse_tdnf(text: str) -> list[PendingUpdate]:
    return _unique([PendingUpdate(name.rsplit(".", 1)[0], "", version, repo, True)
                    for name, version, repo in _split_columns(text)])


def parse_dnf(check_update: str, security_list: str = "") -> list[PendingUpdate]:
    secure = set()
    for line in security_list.splitlines():
        words = line.split()
        if len(words) >= 3 and "sec" in words[1].lower():
            secure.add(_rpm_name(words[2]))
    return _unique([PendingUpdate(name.rsplit(".", 1)[0], "", version, repo, name.rsplit(".", 1)[0] in secure)
                    for name, version, repo in _split_columns(check_update)])


def _rpm_name(nevra: str) -> str:
    """'openssl-libs-1:3.1.1-4.fc39.x86_64' -> 'openssl-libs'."""
    base = nevra.rsplit(".", 1)[0] if _is_package(nevra) else nevra
    parts = base.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else base


def parse_apk(text: str, *, stable_branch: bool = True) -> list[PendingUpdate]:
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[1] != "<":
            continue
        parts = words[0].rsplit("-", 2)
        if len(parts) != 3 or not parts[2].startswith("r"):
            continue
        found.append(PendingUpdate(parts[0], f"{parts[1]}-{parts[2]}", words[2], "", stable_branch))
    return _unique(found)


def parse_installed(family: str, text: str) -> dict[str, str]:
    """The installed list the check prints (`name version` lines; apk: `name-version-rN`) -> name: version.
    A name listed twice (multi-arch) keeps its first version."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if family == "apk":
            parts = words[0].rsplit("-", 2) if len(words) == 1 else []
            if len(parts) == 3 and parts[2].startswith("r"):
                found.setdefault(parts[0], f"{parts[1]}-{parts[2]}")
        elif len(words) == 2:
            found.setdefault(words[0], words[1])
    return found


def _unique(updates: list[PendingUpdate]) -> list[PendingUpdate]:
    """One entry per package name (multi-arch lines repeat a name), first wins."""
    seen: dict[str, PendingUpdate] = {}
    for u in updates:
        seen.setdefault(u.name, u)
    return list(seen.values())
