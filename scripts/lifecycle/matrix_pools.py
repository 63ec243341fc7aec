"""Which agent pool a matrix leg runs on: Linux images on the Linux pool, Windows images on a pool matching
their Windows release (a Windows container needs a host of the same release, or Hyper-V isolation).

The policy's `buildPools` maps `os` or `os/osVersion` to a Microsoft-hosted vmImage; it overrides the
defaults below. Linux platforms of every architecture share one pool (other architectures run emulated).
"""

from __future__ import annotations

from lifecycle.catalog import Policy
from lifecycle.errors import InputError, Location
from lifecycle.platform import Platform

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


def pool_for(platform: Platform, policy: Policy) -> str:
    """The vmImage for `platform`; InputError naming the policy key to add when there is none."""
    pools = {**DEFAULT_POOLS, **dict(policy.build_pools)}
    key = pool_key(platform)
    found = pools.get(key)
    if found is None:
        raise InputError(f"no build pool for {key} images: add buildPools: {{\"{key}\": <vmImage>}}",
                         Location(policy.path))
    return found


def needs_emulation(platforms: list[Platform]) -> bool:
    """Hosted agents are amd64: any other Linux architecture runs under QEMU (Windows legs never emulate)."""
    return any(p.os == "linux" and p.architecture != "amd64" for p in platforms)
