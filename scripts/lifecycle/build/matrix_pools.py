"""Which agent pool a matrix leg runs on: Linux images on the Linux pool, Windows images on a pool matching
their Windows release (a Windows container needs a host of the same release, or Hyper-V isolation).

The policy's `buildPools` maps `os` or `os/osVersion` to a Microsoft-hosted vmImage; it overrides the
defaults below. Linux platforms of every architecture share one pool (other architectures run emulated).
"""

from __future__ import annotations

from lifecycle.catalogue.policy import Policy
from lifecycle.errors import InputError, Location
from lifecycle.catalogue.platform import Platform

DEFAULT_POOLS: dict[str, str] = {
    "linux": "ubuntu-22.04",
    "windows": "windows-2022",
    "windows/ltsc2019": "windows-2019",
    "windows/ltsc2022": "windows-2022",
    "windows/ltsc2025": "windows-2025",
}


def pool_key(platform: Platform) -> str:
    if platform.os == "linux" or not platform.os_version:
        return platform.os
    return f"{platform.os}/{platform.os_version}"


# ImageBuilder spells the Windows release inside the base's name (nanoserver-1809, windowsservercore-ltsc2022):
# a release id or build number names its Server LTSC release
WINDOWS_RELEASES = {"1809": "ltsc2019", "17763": "ltsc2019", "ltsc2019": "ltsc2019", "ltsc2022": "ltsc2022",
                    "20348": "ltsc2022", "ltsc2025": "ltsc2025", "26100": "ltsc2025"}


def release_key(key: str) -> str | None:
    """`windows/<something naming a release>` -> `windows/ltscNNNN`, None when it names none we know."""
    os_name, _, version = key.partition("/")
    for part in reversed(version.replace("_", "-").split("-")):
        if part in WINDOWS_RELEASES:
            return f"{os_name}/{WINDOWS_RELEASES[part]}"
    return None


def pool_for(platform: Platform, policy: Policy) -> str:
    """The vmImage for `platform` (an exact `os/osVersion` key first, then the Windows release the version
    names); InputError naming the policy key to add when there is none."""
    pools = {**DEFAULT_POOLS, **dict(policy.build_pools)}
    key = pool_key(platform)
    found = pools.get(key)
    if found is None and "/" in key:
        release = release_key(key)
        found = pools.get(release) if release else None
    if found is None:
        raise InputError(f"no build pool for {key} images: add buildPools: {{\"{key}\": <vmImage>}}",
                         Location(policy.path))
    return found


def needs_emulation(platforms: list[Platform]) -> bool:
    """Hosted agents are amd64: any other Linux architecture runs under QEMU (Windows legs never emulate)."""
    return any(p.os == "linux" and p.architecture != "amd64" for p in platforms)
