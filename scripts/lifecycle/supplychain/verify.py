"""What a consumer or first responder needs to know about one digest: provenance, SBOM, end of life."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lifecycle.errors import InputError
from lifecycle.registry import referrers
from lifecycle.registry.client import RegistryClient
from lifecycle.supplychain import eol, provenance, signing

SBOM_TYPE = "application/vnd.cyclonedx+json"
KEYS_DIR = Path("keys")  # the repository's trusted public keys (PEM, *.pub)


@dataclass(frozen=True)
class VerifyReport:
    digest: str
    verified: bool
    reason: str                           # why provenance does not verify, or the verifying key ids
    provenance: dict = field(default_factory=dict)   # summary of the verified statement
    sbom_components: int | None = None    # None: no SBOM referrer
    end_of_life: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def trusted_keys(repo: Path) -> list:
    folder = repo / KEYS_DIR
    keys = [signing.load_public_key(p) for p in sorted(folder.glob("*.pub"))] if folder.is_dir() else []
    if not keys:
        raise InputError(f"{folder}: no trusted public keys (*.pub, PEM) to verify against")
    return keys


def _summary(document: dict) -> dict:
    definition = (document.get("predicate") or {}).get("buildDefinition") or {}
    deps = definition.get("resolvedDependencies") or []
    source = next((d for d in deps if str(d.get("uri", "")).startswith("git+")), {})
    return {"subject": provenance.subject_digest(document),
            "definitionHash": provenance.definition_hash(document),
            "source": str(source.get("uri", ""))[4:], "commit": (source.get("digest") or {}).get("gitCommit"),
            "bases": {d["uri"]: ":".join(next(iter(d["digest"].items()))) for d in deps
                      if not str(d.get("uri", "")).startswith("git+") and d.get("digest")}}


def _sbom_components(client: RegistryClient, repo: str, digest: str) -> int | None:
    found = referrers.list_referrers(client, repo, digest, SBOM_TYPE)
    if not found:
        return None
    try:
        return len(json.loads(referrers.read_payload(client, repo, found[-1])).get("components") or [])
    except ValueError:
        return 0


def verify_digest(client: RegistryClient, repo: str, digest: str, keys: list) -> VerifyReport:
    """Verify the newest provenance referrer of `digest` that verifies; it must name `digest` itself."""
    envelopes = referrers.list_referrers(client, repo, digest, provenance.ARTIFACT_TYPE)
    verified, reason, summary = False, "no provenance referrer", {}
    for referrer in envelopes:
        result = signing.verify(referrers.read_payload(client, repo, referrer), keys)
        if result.ok and provenance.subject_digest(result.document) != digest:
            result = signing.Verified(False, f"provenance names subject "
                                             f"{provenance.subject_digest(result.document)}, not {digest}", None)
        verified, reason = result.ok, result.reason
        if result.ok:
            summary = _summary(result.document)
            break
    return VerifyReport(digest, verified, reason, summary, _sbom_components(client, repo, digest),
                        eol.eol_date(client, repo, digest))
