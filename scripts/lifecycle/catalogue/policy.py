"""The policy (manifests/policy.yml): approved bases and their waivers, ages, retention, floating-tag
periods, OS patches, build pools and the supply-chain settings; loaded against its JSON Schema."""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lifecycle import yamlio
from lifecycle.catalogue.schema import check_glob, check_schema, parse_date
from lifecycle.errors import InputError, Location

if TYPE_CHECKING:  # the catalogue's image model; catalog.py does not need the policy
    from lifecycle.catalogue.catalog import ImageSpec

POLICY_PATH = "manifests/policy.yml"

DEFAULT_MAX_AGE_DAYS = 30
DEFAULT_RETENTION_DAYS = 180
MIN_RETENTION_DAYS = 90
DEFAULT_KEEP_LAST = 3
DEFAULT_RETIRED_GRACE_DAYS = 30
DEFAULT_EVALUATION_DAYS = 30
DEFAULT_STABILITY_DAYS = 182
DEFAULT_MAX_SECURITY_PATCH_DAYS = 7


@dataclass(frozen=True)
class Waiver:
    """A time-boxed exception to the approved bases: these images may use this base until `expires`."""

    base: str
    images: tuple[str, ...]
    expires: dt.date
    reason: str
    line: int | None = None

    def covers(self, reference: str, tagbase: str) -> bool:
        return tagbase in self.images and fnmatch.fnmatchcase(reference, self.base)

    def days_left(self, today: dt.date) -> int:
        return (self.expires - today).days


@dataclass(frozen=True)
class Policy:
    approved_bases: tuple[str, ...]
    label_prefix: str
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    bare_tag_follows_latest: bool = False
    retention_days: int = DEFAULT_RETENTION_DAYS
    keep_last: int = DEFAULT_KEEP_LAST
    cleanup_exceptions: tuple[str, ...] = ()
    retired_grace_days: int = DEFAULT_RETIRED_GRACE_DAYS
    # matrix legs: agent pool (Microsoft-hosted vmImage) per "os" or "os/osVersion"; over the defaults in matrix_pools.py
    build_pools: tuple[tuple[str, str], ...] = ()
    path: str = POLICY_PATH
    waivers: tuple[Waiver, ...] = ()
    dotnet_eol: tuple[tuple[str, dt.date], ...] = ()     # (.NET version, end of life), for floating tags
    evaluation_days: int = DEFAULT_EVALUATION_DAYS
    stability_days: int = DEFAULT_STABILITY_DAYS

    @property
    def dotnet_versions(self) -> dict[str, dt.date]:
        return dict(self.dotnet_eol)

    def waiver_for(self, reference: str, tagbase: str, normalized: str | None = None) -> Waiver | None:
        return next((w for w in self.waivers if w.covers(reference, tagbase)
                     or (normalized is not None and w.covers(normalized, tagbase))), None)
    max_security_patch_days: int = DEFAULT_MAX_SECURITY_PATCH_DAYS
    count_non_security_updates: bool = False
    os_upgrade: bool = False
    # supply chain (docs/supply-chain.md): the key publish signs provenance with, as a signer URI
    # (file:<PEM path, relative to the repository> | azurekms:<vault key id>), its public key for azurekms,
    # and whether rollout/reconcile move production tags only to digests with verified provenance
    signing_key: str = ""
    signing_public_key: str = ""
    require_provenance: bool = False

    def wants_os_upgrade(self, image: ImageSpec) -> bool:
        return self.os_upgrade if image.os_upgrade is None else image.os_upgrade

    @property
    def definition_label(self) -> str:
        return f"{self.label_prefix}.definition"

    def approves(self, reference: str) -> bool:
        return any(fnmatch.fnmatchcase(reference, pattern) for pattern in self.approved_bases)

    def is_exception(self, tag: str) -> bool:
        return any(fnmatch.fnmatchcase(tag, pattern) for pattern in self.cleanup_exceptions)


def parse_policy(text: str, filename: str = POLICY_PATH) -> Policy:
    document = yamlio.load_text(text, filename)
    if document is None:
        raise InputError("empty file", Location(filename))
    plain = yamlio.to_plain(document)
    check_schema(document, plain, "policy", filename)
    retention = plain.get("retention") or {}
    for index, pattern in enumerate(plain["approvedBases"]):
        check_glob(pattern, document, ["approvedBases", index], filename)
    for index, pattern in enumerate(retention.get("exceptions") or ()):
        check_glob(pattern, document, ["retention", "exceptions", index], filename)
    return Policy(
        approved_bases=tuple(plain["approvedBases"]),
        label_prefix=plain["labelPrefix"],
        max_age_days=plain.get("maxAgeDays", DEFAULT_MAX_AGE_DAYS),
        bare_tag_follows_latest=plain.get("bareTagFollowsLatest", False),
        retention_days=retention.get("days", DEFAULT_RETENTION_DAYS),
        keep_last=retention.get("keepLast", DEFAULT_KEEP_LAST),
        cleanup_exceptions=tuple(retention.get("exceptions") or ()),
        retired_grace_days=retention.get("retiredGraceDays", DEFAULT_RETIRED_GRACE_DAYS),
        build_pools=tuple(sorted((plain.get("buildPools") or {}).items())),
        path=filename,
        waivers=tuple(Waiver(w["base"], tuple(w["images"]),
                             parse_date(w["expires"], document, ["waivers", i, "expires"], filename),
                             w["reason"], yamlio.position(document, ["waivers", i])[0])
                      for i, w in enumerate(plain.get("waivers") or ())),
        dotnet_eol=tuple((version, parse_date(entry["endOfLife"], document, ["dotnetVersions", version, "endOfLife"],
                                               filename))
                         for version, entry in (plain.get("dotnetVersions") or {}).items()),
        evaluation_days=(plain.get("floatingTags") or {}).get("evaluationDays", DEFAULT_EVALUATION_DAYS),
        stability_days=(plain.get("floatingTags") or {}).get("stabilityDays", DEFAULT_STABILITY_DAYS),
        max_security_patch_days=plain.get("maxSecurityPatchDays", DEFAULT_MAX_SECURITY_PATCH_DAYS),
        count_non_security_updates=plain.get("countNonSecurityUpdates", False),
        os_upgrade=plain.get("osUpgrade", False),
        signing_key=(plain.get("signing") or {}).get("key", ""),
        signing_public_key=(plain.get("signing") or {}).get("publicKey", ""),
        require_provenance=plain.get("requireProvenance", False),
    )
