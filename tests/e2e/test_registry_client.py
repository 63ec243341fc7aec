"""RegistryClient against a real docker-registry: resolve, manifest, retag (image and index), tags, config, delete."""

import hashlib
import json
import subprocess
from datetime import datetime, timezone

import pytest

from lifecycle.errors import OperationError
from lifecycle.registry import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, NotFoundError, RegistryClient
from tests.fixtures.faultproxy import FaultProxy
from tests.fixtures.images import push_image, push_multiplatform
from tests.fixtures.registry import TEST_RETRY

pytestmark = pytest.mark.e2e


def skopeo_digest(registry, repo: str, ref: str) -> str:
    """The digest an independent client computes from the raw manifest bytes."""
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{registry.ref(repo, ref)}"],
                         check=True, capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("media, expected_type", [("oci", OCI_MANIFEST), ("docker", DOCKER_MANIFEST)])
def test_retag_manifest_keeps_digest(registry, unique_repo, media, expected_type):
    with registry.client() as client:
        digest = push_image(client, unique_repo, "src", labels={"a": "1"}, media=media)
        assert client.resolve(unique_repo, "src") == digest
        manifest = client.manifest(unique_repo, "src")
        assert (manifest.digest, manifest.media_type) == (digest, expected_type)
        result = client.retag(unique_repo, "src", "copy")
        assert (result.status, result.digest, result.previous) == ("moved", digest, None)
        assert client.resolve(unique_repo, "copy") == digest
        assert client.manifest(unique_repo, "copy").raw == manifest.raw
    assert skopeo_digest(registry, unique_repo, "copy") == digest == skopeo_digest(registry, unique_repo, "src")


@pytest.mark.parametrize("media, expected_type", [("oci", OCI_INDEX), ("docker", DOCKER_LIST)])
def test_retag_index_keeps_index_and_children_digests(registry, unique_repo, media, expected_type):
    with registry.client() as client:
        index, children = push_multiplatform(client, unique_repo, "multi", media=media)
        result = client.retag(unique_repo, f"{index}", "moved-here")
        assert (result.status, result.digest) == ("moved", index)
        copied = client.manifest(unique_repo, "moved-here")
        assert copied.media_type == expected_type and copied.digest == index
        assert {str(c.platform): c.digest for c in copied.children} == \
               {f"{p[0]}/{p[1]}": d for p, d in children.items()}
        for child in copied.children:
            assert client.resolve(unique_repo, child.digest) == child.digest
    assert skopeo_digest(registry, unique_repo, "moved-here") == index
    for child in children.values():
        assert skopeo_digest(registry, unique_repo, child) == child
    arm64 = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--override-arch", "arm64",
                            f"docker://{registry.ref(unique_repo, 'moved-here')}"],
                           check=True, capture_output=True, timeout=60).stdout
    assert json.loads(arm64)["Architecture"] == "arm64"


def test_retag_many_plans_then_applies_and_skips_correct_tags(registry, unique_repo):
    with registry.client() as client:
        old = push_image(client, unique_repo, "old", labels={"v": "old"})
        new = push_image(client, unique_repo, "new", labels={"v": "new"})
        client.retag(unique_repo, "old", "t-old")
        client.retag(unique_repo, "new", "t-new")
        client.reset_stats()
        results = client.retag_many(unique_repo, [("new", "t-old"), ("new", "t-new"), ("old", "t-fresh")])
        assert [(r.tag, r.status, r.previous, r.digest) for r in results] == [
            ("t-old", "moved", old, new), ("t-new", "unchanged", new, new), ("t-fresh", "moved", None, old)]
        assert client.stats.get("PUT") == 2  # the unchanged tag cost no PUT
        assert client.resolve(unique_repo, "t-old") == new and client.resolve(unique_repo, "t-fresh") == old
        client.reset_stats()
        again = client.retag_many(unique_repo, [("new", "t-old"), ("new", "t-new"), ("old", "t-fresh")])
        assert {r.status for r in again} == {"unchanged"} and "PUT" not in client.stats


def test_retag_many_many_targets_uses_tag_listing(registry, unique_repo):
    with registry.client() as client:
        digest = push_image(client, unique_repo, "src")
        client.retag_many(unique_repo, [("src", f"pre-{i}") for i in range(5)])
        client.reset_stats()
        pairs = [("src", f"pre-{i}") for i in range(5)] + [("src", f"n-{i}") for i in range(30)]
        results = client.retag_many(unique_repo, pairs)
        assert [r.status for r in results] == ["unchanged"] * 5 + ["moved"] * 30
        # one GET for the source, one tag listing, one HEAD per existing target, one PUT per new tag
        assert client.stats == {"GET": 2, "HEAD": 5, "PUT": 30}
        assert all(client.resolve(unique_repo, f"n-{i}") == digest for i in range(30))


def test_retag_many_missing_source_changes_nothing(registry, unique_repo):
    with registry.client() as client:
        digest = push_image(client, unique_repo, "src")
        client.reset_stats()
        with pytest.raises(OperationError, match="(?s)before changing anything.*absent: not found"):
            client.retag_many(unique_repo, [("src", "a"), ("absent", "b")])
        assert "PUT" not in client.stats
        assert client.tags(unique_repo) == ["src"]
        dry = client.retag_many(unique_repo, [("src", "a")], dry_run=True)
        assert (dry[0].status, dry[0].digest) == ("would-move", digest)
        assert client.tags(unique_repo) == ["src"]


def test_tags_follow_link_pagination(registry, unique_repo):
    """docker-registry 2.8 ignores n= for tags, so pages come from the proxy's spec pagination over the
    registry's real list (as ACR and distribution v3 serve them)."""
    with registry.client() as client:
        push_image(client, unique_repo, "t-000")
        client.retag_many(unique_repo, [("t-000", f"t-{i:03d}") for i in range(1, 23)])
        assert sorted(client.tags(unique_repo)) == [f"t-{i:03d}" for i in range(23)]
    with FaultProxy(registry.host, paginate_tags=True) as proxy, RegistryClient(proxy.host, retry=TEST_RETRY) as via:
        listed = via.tags(unique_repo, page_size=5)
        assert listed == [f"t-{i:03d}" for i in range(23)]
        assert via.stats == {"GET": 5}  # 23 tags, 5 per page
        pages = [p for m, p, _ in proxy.log]
        assert pages[0].endswith("tags/list?n=5") and pages[1].endswith("tags/list?last=t-004&n=5")
        assert via.tags("test/never-pushed-repo", page_size=5) == []


def test_config_labels_and_created_for_image_and_index(registry, unique_repo):
    created = datetime(2025, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    labels = {"org.opencontainers.image.revision": "abc123", "org.example.definition": "sha256:" + "1" * 64}
    with registry.client() as client:
        digest = push_image(client, unique_repo, "img", labels=labels, created=created)
        config = client.config(unique_repo, "img")
        assert (config.digest, config.manifest_digest, config.created, config.labels) == (digest, digest, created,
                                                                                          labels)
        index, children = push_multiplatform(client, unique_repo, "multi", labels={"k": "v"}, created=created)
        first = client.config(unique_repo, "multi")
        assert (first.digest, first.manifest_digest, first.labels) == (index, children[("linux", "amd64")],
                                                                       {"k": "v"})
        arm = client.config(unique_repo, index, platform="linux/arm64")
        assert arm.manifest_digest == children[("linux", "arm64")] and str(arm.platform) == "linux/arm64"
        with pytest.raises(NotFoundError, match="no manifest for platform linux/s390x"):
            client.config(unique_repo, "multi", platform="linux/s390x")


def test_delete_by_digest(registry, unique_repo):
    with registry.client() as client:
        keep = push_image(client, unique_repo, "keep", labels={"n": "keep"})
        gone = push_image(client, unique_repo, "gone", labels={"n": "gone"})
        client.retag(unique_repo, "gone", "gone-alias")
        client.delete(unique_repo, gone)
        assert client.try_resolve(unique_repo, gone) is None
        assert client.try_resolve(unique_repo, "gone") is None and client.try_resolve(unique_repo, "gone-alias") is None
        assert client.resolve(unique_repo, "keep") == keep
        with pytest.raises(NotFoundError):
            client.delete(unique_repo, gone)
        with pytest.raises(NotFoundError, match="resolve"):
            client.resolve(unique_repo, "gone")
