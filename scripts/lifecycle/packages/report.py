"""What a package check found in one image, and the distribution family from /etc/os-release."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field

APT, TDNF, DNF, APK = "apt", "tdnf", "dnf", "apk"
FAMILIES = (APT, TDNF, DNF, APK)

# os-release ID (or an ID_LIKE entry) -> family. Azure Linux 3 and CBL-Mariner 1/2 ship tdnf.
BY_ID = {
    "debian": APT, "ubuntu": APT,
    "azurelinux": TDNF, "mariner": TDNF, "photon": TDNF,
    "fedora": DNF, "rhel": DNF, "centos": DNF, "rocky": DNF, "almalinux": DNF, "ol": DNF,
    "alpine": APK,
}


@dataclass(frozen=True)
class OsRelease:
    fields: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> OsRelease:
        """The KEY=value lines of os-release(5); values may be quoted shell words."""
        found: dict[str, str] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            try:
                words = shlex.split(value)
            except ValueError:
                words = [value.strip("\"'")]
            found[key.strip()] = words[0] if words else ""
        return cls(found)

    @property
    def id(self) -> str:
        return self.fields.get("ID", "").lower()

    @property
    def id_like(self) -> list[str]:
        return self.fields.get("ID_LIKE", "").lower().split()

    @property
    def version_id(self) -> str:
        return self.fields.get("VERSION_ID", "")

    @property
    def codename(self) -> str:
        return self.fields.get("VERSION_CODENAME", "")

    @property
    def pretty(self) -> str:
        return self.fields.get("PRETTY_NAME") or " ".join(filter(None, (self.id, self.version_id))) or "unknown"


def family_of(release: OsRelease) -> str | None:
    """apt | tdnf | dnf | apk for a known distribution (ID first, then ID_LIKE), else None."""
    for candidate in [release.id, *release.id_like]:
        if candidate in BY_ID:
            return BY_ID[candidate]
    return None


@dataclass(frozen=True)
class PendingUpdate:
    name: str
    installed: str
    available: str
    origin: str = ""            # where the new version comes from (apt origin/suite, repository)
    security: bool = False


@dataclass
class PackageReport:
    """One image's pending updates. `error` set means the check could not run (no verdict either way)."""

    digest: str = ""
    os: str = ""                # PRETTY_NAME
    family: str | None = None   # None: no known package manager (busybox, distroless)
    pending: list[PendingUpdate] = field(default_factory=list)
    error: str = ""
    # name -> installed version; empty when the list could not be read (read even when `error` is set)
    installed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def checked(self) -> bool:
        return self.family is not None and not self.error

    @property
    def security(self) -> list[PendingUpdate]:
        return [p for p in self.pending if p.security]

    def top(self, n: int = 5, *, security_only: bool = False) -> list[str]:
        """Package names, security updates first, then alphabetical."""
        chosen = self.security if security_only else self.pending
        return [p.name for p in sorted(chosen, key=lambda p: (not p.security, p.name))][:n]

    def summary(self) -> str:
        if self.error:
            return f"package check failed: {self.error}"
        if self.family is None:
            return f"no known package manager ({self.os or 'no /etc/os-release'})"
        if not self.pending:
            return f"{self.family}: up to date"
        return (f"{self.family}: {len(self.pending)} pending, {len(self.security)} security "
                f"({', '.join(self.top())}{', ...' if len(self.pending) > 5 else ''})")

    def to_dict(self) -> dict[str, object]:
        return {"digest": self.digest, "os": self.os, "family": self.family, "pending": len(self.pending),
                "security": len(self.security), "top": self.top(), "error": self.error,
                "seconds": round(self.seconds, 1),
                "updates": [asdict(p) for p in self.pending]}
