"""Proof, before a push, that an image was built on the parent its labels name, for the platform it claims.

An image's layers are its base's layers followed by its own (`rootfs.diff_ids`, the digests of the
uncompressed layers, the same in every engine and registry). So a child built on parent P starts with
exactly P's diff_ids, and one built on anything else does not. Publish checks, for every image whose
final stage has an image base:

- the image's base-digest label equals the digest this run resolved for that base, and
- the image's diff_ids begin with that base's diff_ids, read from the registry by that digest (for the
  platform being built), or from the local engine when the base was built in this run and not pushed.

A mismatch fails the image with both layer lists in the message; nothing is pushed and its descendants
are blocked. Labels alone cannot be trusted for this: they are written from what publish meant to use,
the layers are what the builder did use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lifecycle.errors import OperationError
from lifecycle.catalogue.platform import Platform
from lifecycle.registry import RegistryClient

# What OCI and the engines assume when a platform names no variant.
_DEFAULT_VARIANTS = {"arm64": "v8", "arm": "v7"}


class LineageError(OperationError):
    """An image was not built on the base its labels and this run's resolution say."""


class PlatformError(OperationError):
    """An image's config is for another platform than the catalogue's."""


@dataclass(frozen=True)
class RemoteImage:
    """A single-platform image in a registry: the manifest's digest and the config's facts."""

    manifest_digest: str
    diff_ids: tuple[str, ...]
    platform: Platform | None


def remote_image(client: RegistryClient, repo: str, digest: str, platform: Platform | None) -> RemoteImage:
    """The image `digest` names in `repo`; for an index, its child for `platform` (which must exist)."""
    manifest = client.manifest(repo, digest)
    if manifest.is_index:
        matches = [c for c in manifest.children if c.platform is not None and platform is not None
                   and same_platform(c.platform, platform)]
        if not matches:
            offered = ", ".join(str(c.platform) for c in manifest.children if c.platform) or "none"
            raise OperationError(f"{client.registry}/{repo}@{digest} is an index without a manifest for "
                                 f"{platform} (it has: {offered})")
        manifest = client.manifest(repo, matches[0].digest)
    if manifest.config is None:
        raise OperationError(f"{client.registry}/{repo}@{digest}: manifest has no image config")
    config = json.loads(client.blob(repo, manifest.config.digest))
    diff_ids = tuple((config.get("rootfs") or {}).get("diff_ids") or ())
    found = Platform(config["os"], config.get("architecture", ""), config.get("variant")) if config.get("os") else None
    return RemoteImage(manifest.digest, diff_ids, found)


def same_platform(a: Platform, b: Platform) -> bool:
    """Equal os and architecture, and equal variant once defaults are filled in (arm64 = v8, arm = v7)."""
    def norm(p: Platform) -> tuple[str, str, str | None]:
        return p.os, p.architecture, p.variant or _DEFAULT_VARIANTS.get(p.architecture)
    return norm(a) == norm(b)


def check_platform(image: str, wanted: Platform, os_name: str, architecture: str, variant: str | None,
                   where: str) -> None:
    """The built image's config must be for the catalogue's platform. `variant` None: not reported."""
    found = Platform(os_name, architecture, variant)
    if (os_name, architecture) != (wanted.os, wanted.architecture) or \
            (variant is not None and not same_platform(found, wanted)):
        raise PlatformError(f"{image}: the image config ({where}) says {found}, the catalogue says {wanted}")


@dataclass(frozen=True)
class Lineage:
    """What one check compares."""

    image: str                      # the child (tag base)
    base: str                       # the final stage's base reference as written in the Dockerfile
    expected_digest: str            # what this run resolved for it (the FROM the build was handed)
    label_digest: str | None        # the child's org.opencontainers.image.base.digest label
    base_layers: tuple[str, ...]    # the base's diff_ids
    image_layers: tuple[str, ...]   # the child's diff_ids


def verify(lineage: Lineage) -> None:
    """Raise LineageError unless the label names the expected base and the layers start with the base's."""
    problems = []
    if lineage.label_digest != lineage.expected_digest:
        problems.append(f"its base-digest label is {lineage.label_digest or '(missing)'}, "
                        f"but this run resolved {lineage.base} to {lineage.expected_digest}")
    n = len(lineage.base_layers)
    if not lineage.base_layers:
        problems.append(f"the base {lineage.base}@{lineage.expected_digest} has no layers to compare")
    elif tuple(lineage.image_layers[:n]) != tuple(lineage.base_layers):
        problems.append(f"its layers do not begin with the layers of {lineage.base}@{lineage.expected_digest}")
    if problems:
        raise LineageError(f"lineage check failed for {lineage.image}: " + "; ".join(problems) + "\n"
                           + _layers("base " + lineage.base, lineage.base_layers)
                           + _layers("image " + lineage.image, lineage.image_layers, lineage.base_layers))


def _layers(title: str, layers: tuple[str, ...], against: tuple[str, ...] = ()) -> str:
    rows = [f"  {title} ({len(layers)} layers):"]
    for i, layer in enumerate(layers):
        mark = ""
        if against:
            mark = "  (= base)" if i < len(against) and against[i] == layer else \
                ("  (differs from base)" if i < len(against) else "")
        rows.append(f"    {i + 1}. {layer}{mark}")
    if not layers:
        rows.append("    (none)")
    return "\n".join(rows) + "\n"
