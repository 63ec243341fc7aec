"""The README's main job: the whole weekly cycle against the real engine and registry."""

from __future__ import annotations

import json
import re

import pytest

from lifecycle.catalogue.catalog import split_immutable_tag
from lifecycle.cycle import run_cycle
from lifecycle.output import Reporter, short_digest
from lifecycle.registry.models import OCI_INDEX
from lifecycle.sample import ARM64_TAGBASES, DEBIAN, SOLO, SOLO_ARM64, SOLO_SHARED, TAGBASES

pytestmark = [pytest.mark.e2e, pytest.mark.engine]


def test_cycle_rolls_out_rolls_back_and_reports(tmp_path, registry, engine, debian_rootfs):
    report = run_cycle(tmp_path / "cycle", registry.host, engine, Reporter(), debian_rootfs=debian_rootfs)
    titles = [s.title for s in report.steps]
    assert titles == ["Set up a GitOps repository", "Publish main to staging", "Weekly rollout", "A change on main",
                      "Publish the change", "Weekly rollout", "Rollback by revert on production", "Stale images",
                      "Cleanup plan", "Consumers", "OS patches on a Debian image", "Final state"]
    repository = report.repository
    client = registry.client()
    def builds(tagbase: str) -> list[tuple[str, str]]:
        """The tag base's immutable tags, oldest first, with their digests."""
        tags = sorted((split_immutable_tag(t)[1], t) for t in client.tags(repository)
                      if (s := split_immutable_tag(t)) and s[0] == tagbase)
        return [(t, client.resolve(repository, t)) for _, t in tags]

    def children(ref: str) -> list[tuple[str, str]]:
        manifest = client.manifest(repository, ref)
        assert manifest.media_type == OCI_INDEX
        return [(m["digest"], "/".join(m["platform"].get(k, "") for k in ("os", "architecture", "variant")))
                for m in json.loads(manifest.raw)["manifests"]]

    solo, arm_builds = builds(SOLO), builds(SOLO_ARM64)
    assert len(solo) == len(arm_builds) == 2
    (v1_tag, v1), (_, v2) = solo
    arm = [d for _, d in arm_builds]
    # the rollback restored v1 on latest byte for byte; staging still has v2
    assert client.resolve(repository, f"{SOLO}-latest") == v1
    assert client.resolve(repository, f"{SOLO}-staging") == v2
    assert client.resolve(repository, f"{SOLO_ARM64}-latest") == arm[0]
    assert client.resolve(repository, f"{SOLO_ARM64}-staging") == arm[1]
    assert client.config(repository, arm[0]).platform.architecture == "arm64"
    for tagbase in TAGBASES:
        if tagbase != SOLO:
            assert client.resolve(repository, f"{tagbase}-latest") == client.resolve(repository, f"{tagbase}-staging")
    # the multi-platform shared tag: the index over the v1 pair again on latest, over the v2 pair on staging
    index_v1, index_v2 = (client.resolve(repository, f"{SOLO_SHARED}-{c}") for c in ("latest", "staging"))
    assert client.resolve(repository, SOLO_SHARED) == index_v1 != index_v2
    assert children(index_v1) == [(v1, "linux/amd64/"), (arm[0], "linux/arm64/v8")]
    assert children(index_v2) == [(v2, "linux/amd64/"), (arm[1], "linux/arm64/v8")]
    rollback = next(s for s in report.steps if s.title.startswith("Rollback"))
    assert {"image": SOLO, "before the change": short_digest(v1), "after its rollout": short_digest(v2),
            "after the revert": short_digest(v1), "restored": "yes"} in rollback.rows
    assert {"image": f"{SOLO_SHARED} (index)", "before the change": short_digest(index_v1),
            "after its rollout": short_digest(index_v2), "after the revert": short_digest(index_v1),
            "restored": "yes"} in rollback.rows
    assert [r["image"] for r in rollback.rows if r["restored"]] == [SOLO, SOLO_ARM64, f"{SOLO_SHARED} (index)"]
    stale = next(s for s in report.steps if s.title == "Stale images")
    assert {r["image"] for r in stale.rows if r["status"] in ("stale", "rebuild")} == set(ARM64_TAGBASES)
    # solo's v1 build is past retention and not its newest, but `-latest` points at it again: kept
    cleanup = {r["tag"]: r for r in next(s for s in report.steps if s.title == "Cleanup plan").rows}
    v1_row = cleanup[v1_tag]
    assert v1_row["action"] == "keep" and v1_row["digest"] == short_digest(v1)
    assert "older than the 90-day retention; kept: digest also tagged busybox-1.0-solo-amd64" in v1_row["reason"]
    assert {r["action"] for r in cleanup.values()} == {"keep"} and len(cleanup) == len(ARM64_TAGBASES) + 2
    consumers = next(s for s in report.steps if s.title == "Consumers")
    assert sorted(r["class"] for r in consumers.rows) == ["latest", "pinned"]
    # the Debian image on the un-refreshed base: stale by its security updates, fixed by the nightly rebuild
    published, rebuilt = next(s for s in report.steps if s.title == "OS patches on a Debian image").rows
    assert published["status"] == "stale" and published["security"] > 0
    assert published["reasons"].startswith(f"{published['security']} security updates pending (")
    assert rebuilt["status"] == "current" and rebuilt["security"] == 0 and rebuilt["reasons"] == ""
    assert rebuilt["definition"] == published["definition"] and rebuilt["digest"] != published["digest"]
    assert short_digest(client.resolve(repository, f"{DEBIAN}-staging")) == rebuilt["digest"]
    markdown = report.markdown()
    assert all(f"## {t}" in markdown for t in titles) and short_digest(v1) in markdown
    # the status page of the end state: solo is held (reverted on production, main still has v2)
    page = report.status_page.read_text(encoding="utf-8")
    embedded = re.search(r'<script type="application/json" id="status-data">(.*?)</script>', page, re.S)
    images = {i["tagbase"]: i for i in json.loads(embedded.group(1))["images"]}
    assert images[SOLO]["state"] == "held" and images[SOLO]["latest"]["digest"] == v1
    assert images[SOLO]["hold"].startswith("reverted on production")
    assert sum(images[t]["consumers"].get("pinned", 0) for t in TAGBASES) == 1
    client.close()
