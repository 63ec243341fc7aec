"""What publish attaches to every digest it pushes: a DSSE-enveloped provenance and a CycloneDX SBOM.

The signer comes from policy (`signing.key`). Without one the provenance is still attached, as a DSSE
envelope with no signature, and publish warns: `lifecycle verify` and the provenance gate then report it
"unsigned" instead of finding nothing and leaving the reader to guess why.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Mapping

from securesystemslib.dsse import Envelope
from securesystemslib.signer import Signer

from lifecycle.catalogue.policy import Policy
from lifecycle.errors import InputError
from lifecycle.registry import referrers
from lifecycle.registry.client import RegistryClient
from lifecycle.supplychain import provenance, sbom, signing

UNSIGNED_WARNING = "no signing key in policy (signing.key): provenance attached unsigned"


@dataclass(frozen=True)
class Records:
    """The referrers attached to one digest (image-info's and publish's `records`)."""
    provenance: str          # digest of the provenance referrer manifest
    sbom: str                # digest of the SBOM referrer manifest
    signed: bool
    components: int          # packages (or, for an index, platform images) the SBOM lists

    def as_dict(self) -> dict:
        return asdict(self)


def policy_signer(policy: Policy, root: Path) -> Signer | None:
    """The signer policy names, None when it names none. Bad or unusable keys are input errors before
    anything is built (an Azure Key Vault key without the Azure SDK installed included)."""
    uri = policy.signing_key
    if not uri:
        return None
    where = f"{policy.path}: signing.key"
    scheme, _, rest = uri.partition(":")
    try:
        if scheme == "file":
            path = Path(rest) if Path(rest).is_absolute() else root / rest
            return signing.load_signer(f"file:{path}")
        public = None
        if policy.signing_public_key:
            public = signing.load_public_key(root / policy.signing_public_key)
        return signing.load_signer(uri, public)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def pipeline_run(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(run id, run URL) from Azure Pipelines' predefined variables, (None, None) outside a pipeline."""
    run_id = env.get("BUILD_BUILDID") or None
    collection = env.get("SYSTEM_COLLECTIONURI") or env.get("SYSTEM_TEAMFOUNDATIONCOLLECTIONURI") or ""
    project = env.get("SYSTEM_TEAMPROJECT") or ""
    url = None
    if run_id and collection and project:
        url = f"{collection.rstrip('/')}/{project}/_build/results?buildId={run_id}"
    return run_id, url


def envelope(statement: dict, signer: Signer | None) -> bytes:
    payload = provenance.encode(statement)
    if signer is not None:
        return signing.sign(payload, provenance.PAYLOAD_TYPE, signer)
    unsigned = Envelope(payload=payload, payload_type=provenance.PAYLOAD_TYPE, signatures={})
    return json.dumps(unsigned.to_dict(), sort_keys=True, separators=(",", ":")).encode()


def is_signed(envelope_bytes: bytes) -> bool:
    """Whether an envelope carries any signature at all (whether it verifies is `signing.verify`'s job)."""
    try:
        return bool(json.loads(envelope_bytes).get("signatures"))
    except (ValueError, AttributeError):
        return False


@dataclass
class RecordWriter:
    """Attaches the records of one publish run; what it knows about the run is the same for every digest."""
    client: RegistryClient
    repo: str
    subject_name: str                  # registry/repository, the statement's subject name
    source_url: str
    commit: str
    signer: Signer | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def in_repository(self, repo: str) -> "RecordWriter":
        """The same run's writer for another registry repository of the catalogue (records sit beside their
        subject, in its repository)."""
        if repo == self.repo:
            return self
        registry = self.subject_name[: -len(self.repo)] if self.subject_name.endswith(self.repo) else ""
        return replace(self, repo=repo, subject_name=f"{registry}{repo}")

    def attach(self, facts: provenance.BuildFacts, sbom_document: bytes) -> Records:
        provenance_ref, sbom_ref = referrers.attach_many(self.client, self.repo, facts.digest, [
            referrers.Artifact(provenance.ARTIFACT_TYPE, envelope(provenance.statement(facts), self.signer),
                               provenance.ARTIFACT_TYPE),
            referrers.Artifact(sbom.MEDIA_TYPE, sbom_document, sbom.MEDIA_TYPE)])
        return Records(provenance_ref.digest, sbom_ref.digest, self.signer is not None,
                       len(sbom.component_names(sbom_document)))

    def facts(self, digest: str, definition: str, *, platform: str | None, bases: dict[str, str],
              build_args: dict[str, str], tests_passed: tuple[str, ...]) -> provenance.BuildFacts:
        run_id, run_url = pipeline_run(self.env)
        return provenance.BuildFacts(image=self.subject_name, digest=digest, repository_url=self.source_url,
                                     commit=self.commit, definition_hash=definition, platform=platform,
                                     bases=dict(bases), build_args=dict(build_args), run_id=run_id,
                                     run_url=run_url, tests_passed=tests_passed)

    def attach_image(self, digest: str, definition: str, platform: str, bases: dict[str, str],
                     build_args: dict[str, str], tests_passed: tuple[str, ...],
                     inventory_sbom: bytes) -> Records:
        return self.attach(self.facts(digest, definition, platform=platform, bases=bases, build_args=build_args,
                                      tests_passed=tests_passed), inventory_sbom)

    def attach_index(self, digest: str, definition: str, members: dict[str, str]) -> Records:
        """An index's provenance names the platform images it lists as its resolved dependencies; an index
        already carrying a provenance (re-pushed unchanged) gets nothing new."""
        existing = referrers.list_referrers(self.client, self.repo, digest)
        have = {r.artifact_type: r.digest for r in existing}
        if provenance.ARTIFACT_TYPE in have and sbom.MEDIA_TYPE in have:
            found = next(r for r in existing if r.artifact_type == provenance.ARTIFACT_TYPE)
            return Records(found.digest, have[sbom.MEDIA_TYPE],
                           is_signed(referrers.read_payload(self.client, self.repo, found)), len(members))
        facts = self.facts(digest, definition, platform=None,
                           bases={f"{self.subject_name}@{d}": d for d in members.values()},
                           build_args={}, tests_passed=())
        return self.attach(facts, sbom.index_sbom(self.subject_name, digest, members))
