"""OCI 1.1 referrers: artifacts (provenance, SBOM, end-of-life) attached to an image digest by `subject`.

Where the registry answers `GET /v2/<name>/referrers/<digest>` it maintains the list itself; elsewhere
(docker-registry 2.8) the spec's fallback applies: an index tagged `sha256-<hex>` of the subject, which
the pusher keeps up to date. Support is probed once per client and remembered in its capabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lifecycle.registry.client import RegistryClient
from lifecycle.registry.models import OCI_INDEX, OCI_MANIFEST, sha256_digest
from lifecycle.registry.reference import is_digest
from lifecycle.registry.transport import NotFoundError

CAPABILITY = "referrers"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"


@dataclass(frozen=True)
class Referrer:
    digest: str
    artifact_type: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    def descriptor(self) -> dict:
        body: dict = {"mediaType": OCI_MANIFEST, "digest": self.digest, "size": self.size,
                      "artifactType": self.artifact_type}
        if self.annotations:
            body["annotations"] = dict(self.annotations)
        return body

    @classmethod
    def from_descriptor(cls, d: dict) -> "Referrer":
        return cls(d["digest"], d.get("artifactType", ""), int(d.get("size", 0)), dict(d.get("annotations") or {}))


def fallback_tag(subject: str) -> str:
    """The OCI 1.1 fallback tag for a subject digest: `<alg>-<hex>`."""
    if not is_digest(subject):
        raise ValueError(f"referrers need a subject digest (sha256:<hex>), got {subject!r}")
    algorithm, _, hexpart = subject.partition(":")
    return f"{algorithm}-{hexpart}"[:128]


def _api_list(client: RegistryClient, repo: str, subject: str) -> list[Referrer] | None:
    """The registry's own referrers list, or None when the registry has no referrers API."""
    if client.capabilities.get(CAPABILITY) is False:
        return None
    response = client.transport.request("GET", f"/v2/{repo}/referrers/{subject}",
                                        scope=f"repository:{repo}:pull", headers={"Accept": OCI_INDEX})
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    if response.status_code != 200 or content_type != OCI_INDEX:
        # 404 from a registry without the API (a registry with it answers 200 and an empty index)
        client.capabilities[CAPABILITY] = False
        return None
    client.capabilities[CAPABILITY] = True
    return [Referrer.from_descriptor(d) for d in response.json().get("manifests") or []]


def _fallback_list(client: RegistryClient, repo: str, subject: str) -> list[Referrer]:
    try:
        index = client.manifest(repo, fallback_tag(subject))
    except NotFoundError:
        return []
    return [Referrer.from_descriptor(d) for d in json.loads(index.raw).get("manifests") or []]


def list_referrers(client: RegistryClient, repo: str, subject: str, artifact_type: str | None = None) -> list[Referrer]:
    """Every referrer of `subject` (optionally of one artifact type), through the API or the fallback tag."""
    found = _api_list(client, repo, subject)
    if found is None:
        found = _fallback_list(client, repo, subject)
    return [r for r in found if artifact_type is None or r.artifact_type == artifact_type]


@dataclass(frozen=True)
class Artifact:
    """One document to attach: its artifact type, its bytes and their media type, annotations."""
    artifact_type: str
    payload: bytes
    payload_type: str
    annotations: dict[str, str] = field(default_factory=dict)


def attach(client: RegistryClient, repo: str, subject: str, artifact_type: str, payload: bytes,
           payload_type: str, annotations: dict[str, str] | None = None) -> Referrer:
    """Push `payload` as an artifact manifest whose subject is `subject`; returns its referrer entry."""
    return attach_many(client, repo, subject, [Artifact(artifact_type, payload, payload_type,
                                                        dict(annotations or {}))])[0]


def attach_many(client: RegistryClient, repo: str, subject: str, artifacts: list[Artifact]) -> list[Referrer]:
    """Push `artifacts` as artifact manifests whose subject is `subject`, concurrently; returns their
    referrer entries, in order. The subject is read once; on the fallback path its index is written once
    with all of them (one read and one write, so concurrent pushes never race on it)."""
    target = client.manifest(repo, subject)
    config = client.push_blob(repo, EMPTY_CONFIG)

    def push(artifact: Artifact) -> Referrer:
        layer = client.push_blob(repo, artifact.payload)
        manifest: dict = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact.artifact_type,
            "config": {"mediaType": EMPTY_TYPE, "digest": config, "size": len(EMPTY_CONFIG)},
            "layers": [{"mediaType": artifact.payload_type, "digest": layer, "size": len(artifact.payload)}],
            "subject": {"mediaType": target.media_type, "digest": target.digest, "size": len(target.raw)},
        }
        if artifact.annotations:
            manifest["annotations"] = dict(artifact.annotations)
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        digest = client.put_manifest(repo, sha256_digest(raw), raw, OCI_MANIFEST)
        return Referrer(digest, artifact.artifact_type, len(raw), dict(artifact.annotations))

    pushed = client.map(push, artifacts)
    # a registry with the API keeps the list itself: asked once per client (the capability), never per push
    if client.capabilities.get(CAPABILITY) is not True and _api_list(client, repo, subject) is None:
        _fallback_add(client, repo, subject, pushed)
    return pushed


def _fallback_add(client: RegistryClient, repo: str, subject: str, added: list[Referrer]) -> None:
    new = {r.digest for r in added}
    entries = [r for r in _fallback_list(client, repo, subject) if r.digest not in new] + added
    _fallback_write(client, repo, subject, entries)


def _fallback_write(client: RegistryClient, repo: str, subject: str, entries: list[Referrer]) -> None:
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [r.descriptor() for r in entries]}
    client.push_manifest(repo, fallback_tag(subject), index, OCI_INDEX)


def read_payload(client: RegistryClient, repo: str, referrer: Referrer) -> bytes:
    """The artifact's single layer (the document it carries)."""
    manifest = json.loads(client.manifest(repo, referrer.digest).raw)
    layers = manifest.get("layers") or []
    if not layers:
        return b""
    return client.blob(repo, layers[0]["digest"])


def delete_referrers(client: RegistryClient, repo: str, subject: str) -> list[str]:
    """Delete every referrer of `subject` and, on the fallback path, its index tag. Returns what went.
    Called before the subject itself is deleted, so nothing is left that points at a missing digest."""
    referrers = list_referrers(client, repo, subject)
    deleted: list[str] = []
    for referrer in referrers:
        try:
            client.delete(repo, referrer.digest)
        except NotFoundError:
            pass
        deleted.append(referrer.digest)
    if client.capabilities.get(CAPABILITY) is False:
        try:
            index = client.resolve(repo, fallback_tag(subject))
            client.delete(repo, index)
            deleted.append(index)
        except NotFoundError:
            pass
    return deleted
