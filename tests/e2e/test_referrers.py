"""OCI 1.1 referrers on both paths: the local docker-registry (fallback tag) and the ACR stand-in (API)."""

import json

import pytest

from lifecycle.registry import NotFoundError
from lifecycle.registry import referrers
from lifecycle.supplychain import provenance, signing
from tests.fixtures.images import push_image

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["fallback", "api"])
def target(request, registry):
    """(client, path) on the plain registry (fallback tag only) or the stand-in (referrers API)."""
    if request.param == "fallback":
        with registry.client() as client:
            yield client, "fallback"
    else:
        stand_in = request.getfixturevalue("acr")
        with stand_in.client() as client:
            yield client, "api"


def _signed(client, repo, digest, key) -> bytes:
    facts = provenance.BuildFacts(image=f"{client.registry}/{repo}", digest=digest,
                                  repository_url="file:///repo", commit="a" * 40, definition_hash="h1")
    return signing.sign(provenance.encode(provenance.statement(facts)), provenance.PAYLOAD_TYPE,
                        signing.load_signer(f"file:{key}"))


def test_attach_list_verify_and_delete_without_orphans(target, registry, unique_repo, signing_keys):
    client, path = target
    subject = push_image(client, unique_repo, "img", labels={"n": "1"})
    other = push_image(client, unique_repo, "other", labels={"n": "2"})
    assert referrers.list_referrers(client, unique_repo, subject) == []
    envelope = _signed(client, unique_repo, subject, signing_keys["trusted"][0])
    attached = referrers.attach(client, unique_repo, subject, provenance.ARTIFACT_TYPE, envelope,
                                provenance.ARTIFACT_TYPE, {"org.opencontainers.image.created": "2026-12-02T00:00:00Z"})
    sbom = referrers.attach(client, unique_repo, subject, "application/vnd.cyclonedx+json", b'{"bomFormat":"CycloneDX"}',
                            "application/vnd.cyclonedx+json")
    assert client.capabilities[referrers.CAPABILITY] is (path == "api")

    listed = referrers.list_referrers(client, unique_repo, subject)
    assert {r.digest for r in listed} == {attached.digest, sbom.digest}
    assert [r.digest for r in referrers.list_referrers(client, unique_repo, subject, provenance.ARTIFACT_TYPE)] \
        == [attached.digest]
    assert referrers.list_referrers(client, unique_repo, other) == []
    stored = json.loads(client.manifest(unique_repo, attached.digest).raw)
    assert stored["subject"]["digest"] == subject and stored["artifactType"] == provenance.ARTIFACT_TYPE
    payload = referrers.read_payload(client, unique_repo, attached)
    assert payload == envelope
    result = signing.verify(payload, [signing.load_public_key(signing_keys["trusted"][1])])
    assert result.ok and provenance.subject_digest(result.document) == subject
    assert not signing.verify(payload, [signing.load_public_key(signing_keys["stranger"][1])]).ok

    fallback = client.try_resolve(unique_repo, referrers.fallback_tag(subject))
    assert (fallback is not None) is (path == "fallback")

    deleted = referrers.delete_referrers(client, unique_repo, subject)
    client.delete(unique_repo, subject)
    assert {attached.digest, sbom.digest} <= set(deleted)
    for digest in (attached.digest, sbom.digest):
        with pytest.raises(NotFoundError):
            client.manifest(unique_repo, digest)
    assert client.try_resolve(unique_repo, referrers.fallback_tag(subject)) is None
    assert referrers.list_referrers(client, unique_repo, subject) == []
    assert client.resolve(unique_repo, "other") == other
    # the plain registry, read directly, holds no fallback index either (no orphan on either path)
    with registry.client() as direct:
        assert referrers.fallback_tag(subject) not in direct.tags(unique_repo)


def test_attach_many_pushes_together_and_writes_the_fallback_index_once(target, unique_repo):
    """An image's provenance and SBOM go up together: every referrer listed, one fallback index written for
    both (never one per referrer), and on a registry with the API no list request after the first probe."""
    client, path = target
    subject = push_image(client, unique_repo, "img", labels={"n": "many"})
    first = referrers.attach(client, unique_repo, subject, "application/vnd.example.first", b"1",
                             "application/vnd.example.first")
    client.reset_stats()
    both = referrers.attach_many(client, unique_repo, subject, [
        referrers.Artifact("application/vnd.example.a", b'{"a":1}', "application/json", {"k": "a"}),
        referrers.Artifact("application/vnd.example.b", b'{"b":2}', "application/json")])
    assert [r.artifact_type for r in both] == ["application/vnd.example.a", "application/vnd.example.b"]
    stats = dict(client.stats)
    listed = referrers.list_referrers(client, unique_repo, subject)
    assert {r.digest for r in listed} == {first.digest, *(r.digest for r in both)}, "earlier referrers kept"
    assert {r.digest: r.annotations for r in listed}[both[0].digest] == {"k": "a"}
    # two artifact manifests, their two layers (POST + PUT each); plus the fallback index on that path only
    assert stats.get("PUT", 0) == 2 + 2 + (1 if path == "fallback" else 0), stats
    assert stats.get("GET", 0) == 1 + (1 if path == "fallback" else 0), stats  # the subject (+ the old index)
