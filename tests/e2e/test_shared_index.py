"""Multi-platform shared tags end to end on the real registry: publish pushes an OCI index over the platform
images, rollout and reconcile move `<tag>` and `<tag>-latest` to the index over the LKGs, a revert on
production moves them back to the earlier index (same children, same bytes, same digest), cleanup treats the
channel tags as floating. Windows images are skipped by a Linux engine's publish."""

from __future__ import annotations

import json

import pytest

from lifecycle.cleanup.rules import classify_tags
from lifecycle.production.gitops import GitOps
from lifecycle.build.manifest_index import publish_indexes
from lifecycle.production.reconcile import reconcile
from lifecycle.registry.models import OCI_INDEX
from lifecycle.production.rollback import emergency
from lifecycle.production.rollout import rollout
from lifecycle.sample import SOLO
from tests.fixtures.gitops_origin import quiet

pytestmark = pytest.mark.e2e

SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"
ARM = "busybox-1.0-solo-arm64v8"
SHARED = "busybox-1.0-solo"


def two_platforms(origin) -> dict[str, str]:
    """SOLO's folder built for arm64 too, both under one shared tag."""
    catalog = origin.show(origin.initial, "manifests/images.yml")
    catalog = catalog.replace("images:\n", f"sharedTags:\n  {SHARED}: [{SOLO}, {ARM}]\nimages:\n", 1)
    catalog += (f"  - tagBase: {ARM}\n    dockerfile: src/busybox/1.0/solo/amd64\n"
                f"    platform: {{os: linux, architecture: arm64, variant: v8}}\n")
    return {"manifests/images.yml": catalog}


def index_children(client, origin, tag: str) -> list[tuple[str, str]]:
    manifest = client.manifest(origin.repository, tag)
    assert manifest.media_type == OCI_INDEX
    data = json.loads(manifest.raw)
    return [(m["digest"], "/".join(v for v in (m["platform"]["os"], m["platform"]["architecture"],
                                                m["platform"].get("variant")) if v)) for m in data["manifests"]]


def test_shared_tag_index_through_publish_rollout_revert_and_cleanup(origin, client):
    c1 = origin.commit(two_platforms(origin), "solo for arm64 too")
    staged = origin.publish_synthetic(client, c1)
    ws = origin.workspace(c1)
    outcome = publish_indexes(ws.catalog, client, "staging", {SOLO})
    assert [(o.tag, o.status) for o in outcome] == [(f"{SHARED}-staging", "moved")]
    assert index_children(client, origin, f"{SHARED}-staging") == [(staged[SOLO], "linux/amd64"),
                                                                    (staged[ARM], "linux/arm64/v8")]
    again = publish_indexes(ws.catalog, client, "staging", {SOLO})
    assert [(o.status, o.digest) for o in again] == [("unchanged", outcome[0].digest)]

    first = rollout(GitOps(origin.agent), client, quiet())
    v1_index = client.resolve(origin.repository, SHARED)
    assert client.resolve(origin.repository, f"{SHARED}-latest") == v1_index == outcome[0].digest
    assert {e.tag: e.status for e in first.entries}[SHARED] == "moved"

    # a change to the shared folder: both platforms get a new definition, the index a new digest
    c2 = origin.commit({SOLO_DF: origin.show(c1, SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    assert set(v2) == {SOLO, ARM}
    second = rollout(GitOps(origin.agent), client, quiet())
    v2_index = client.resolve(origin.repository, SHARED)
    assert v2_index != v1_index
    assert index_children(client, origin, SHARED) == [(v2[SOLO], "linux/amd64"), (v2[ARM], "linux/arm64/v8")]
    journal = {e.tag: (e.previous, e.new) for e in second.journal.tags}
    assert journal[SHARED] == (v1_index, v2_index)

    # emergency rollback of the amd64 image: its latest goes back, and the index follows its child back
    emergency_result = emergency(origin.workspace(c2), client, SOLO, journal=second.journal)
    assert emergency_result.ok, emergency_result.entries
    assert client.resolve(origin.repository, f"{SOLO}-latest") == staged[SOLO]
    assert index_children(client, origin, SHARED) == [(staged[SOLO], "linux/amd64"), (v2[ARM], "linux/arm64/v8")]
    assert client.resolve(origin.repository, f"{SHARED}-latest") == client.resolve(origin.repository, SHARED)

    # FR reverts the rollout on production: reconcile moves the index back, to the very same digest
    origin.revert_on_production(second.plan.merge)
    report = reconcile(GitOps(origin.agent), client, quiet())
    assert report.ok
    assert client.resolve(origin.repository, SHARED) == client.resolve(origin.repository, f"{SHARED}-latest") == v1_index
    assert index_children(client, origin, SHARED) == [(staged[SOLO], "linux/amd64"), (staged[ARM], "linux/arm64/v8")]

    kinds = classify_tags(client.tags(origin.repository), ws.catalog)
    assert {kinds[t].kind for t in (SHARED, f"{SHARED}-latest", f"{SHARED}-staging")} == {"floating"}


def test_linux_engine_skips_windows_images(sample):
    catalog = (sample.root / "manifests/images.yml").read_text()
    sample.write("manifests/images.yml", catalog + (
        "  - tagBase: nanoserver-ltsc2022-helix-amd64\n    dockerfile: src/nanoserver/ltsc2022\n"
        "    platform: {os: windows, architecture: amd64, osVersion: ltsc2022}\n"))
    sample.write("src/nanoserver/ltsc2022/Dockerfile", "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n")
    policy = (sample.root / "manifests/policy.yml").read_text()
    sample.write("manifests/policy.yml", policy + (
        "waivers:\n  - base: mcr.microsoft.com/windows/nanoserver:ltsc2022\n"
        "    images: [nanoserver-ltsc2022-helix-amd64]\n    expires: 2999-01-01\n    reason: tests\n"))
    sample.commit("a Windows image")
    done = sample.cli("publish", "--repo", str(sample.root), "--since", "HEAD~1", "--dry-run", "-o", "json")
    assert done.returncode == 0, done.stderr
    rows = {r["tagbase"]: r for r in json.loads(done.stdout)["images"]}
    assert (rows["nanoserver-ltsc2022-helix-amd64"]["status"],
            rows["nanoserver-ltsc2022-helix-amd64"]["reason"]) == ("skipped", "needs a Windows engine")
    assert list(rows) == ["nanoserver-ltsc2022-helix-amd64"]
    named = sample.cli("publish", "--repo", str(sample.root), "--images", "nanoserver-ltsc2022-helix-amd64",
                       "--dry-run")
    assert named.returncode == 1 and "nanoserver-ltsc2022-helix-amd64 (needs a Windows engine)" in named.stderr
