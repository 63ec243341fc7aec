"""A multi-platform shared tag after a rollback: reconcile reports nothing departed, and neither cleanup nor
retire touches the shared tag, its channel tags or the index's children (real registry, real git, the CLI)."""

from __future__ import annotations

import json

import pytest

from lifecycle.build.manifest_index import publish_indexes
from lifecycle.production.gitops import GitOps
from lifecycle.production.rollout import rollout
from lifecycle.sample import SOLO
from tests.e2e.test_shared_index import ARM, SHARED, SOLO_DF, index_children, two_platforms
from tests.fixtures.gitops_origin import git, quiet
from tests.fixtures.lifecycle_repo import run_cli

pytestmark = pytest.mark.e2e


def test_reconcile_after_rollback_keeps_a_live_shared_tag_out_of_departed_cleanup_and_retire(origin, client, registry,
                                                                                             capsys):
    repo = origin.repository
    c1 = origin.commit(two_platforms(origin), "solo for arm64 too")
    origin.publish_synthetic(client, c1)
    publish_indexes(origin.workspace(c1).catalog, client, "staging", set(origin.workspace(c1).catalog.tagbases))
    rollout(GitOps(origin.agent), client, quiet())
    c2 = origin.commit({SOLO_DF: origin.show(c1, SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    origin.publish_synthetic(client, c2)
    publish_indexes(origin.workspace(c2).catalog, client, "staging", set(origin.workspace(c2).catalog.tagbases))
    second = rollout(GitOps(origin.agent), client, quiet())
    v2_index = client.resolve(repo, SHARED)

    origin.revert_on_production(second.plan.merge)
    code, out, err = run_cli(capsys, "reconcile", "--channel", "latest", "--repo", str(origin.agent),
                              "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["departed"] == []
    moved = {e["tag"]: e for e in data["tags"]}
    assert moved[SHARED]["previous"] == v2_index != moved[SHARED]["new"]
    code, table, err = run_cli(capsys, "reconcile", "--channel", "latest", "--repo", str(origin.agent))
    assert code == 0, err
    assert "Left the catalogue" not in table

    # two more builds of both members: the first of them is old, untagged and nobody's child
    for _ in range(2):
        origin.publish_synthetic(client, c2, [SOLO, ARM])
    shared_tags = (SHARED, f"{SHARED}-latest", f"{SHARED}-staging")
    before = {t: client.resolve(repo, t) for t in shared_tags}
    children = {t: index_children(client, origin, t) for t in shared_tags}
    assert before[SHARED] == before[f"{SHARED}-latest"] != v2_index

    # retire refuses a member of the index and changes nothing
    git(origin.dev, "checkout", "-q", "main")
    head = git(origin.dev, "rev-parse", "HEAD").strip()
    code, _, err = run_cli(capsys, "retire", ARM, "--repo", str(origin.dev))
    assert code == 2 and SHARED in err
    assert git(origin.dev, "rev-parse", "HEAD").strip() == head and not git(origin.dev, "status", "--porcelain")

    # cleanup, long after every build: old images go, nothing of the shared tag does
    code, out, err = run_cli(capsys, "cleanup", "--repo", str(origin.dev),
                             "--now", "2030-01-01T00:00:00Z", "--apply", "-o", "json")
    assert code == 0, err
    outcomes = json.loads(out)["outcomes"]
    deleted = {o["digest"] for o in outcomes if o["status"] == "deleted"}
    assert deleted, "the scenario must leave cleanup something to delete"
    kept = {d for kids in children.values() for d, _ in kids} | set(before.values())
    assert not deleted & kept
    remaining = set(client.tags(repo))
    assert set(shared_tags) <= remaining
    assert {t: client.resolve(repo, t) for t in shared_tags} == before
    for tag, kids in children.items():
        assert index_children(client, origin, tag) == kids
        for digest, _ in kids:
            assert client.manifest(repo, digest).digest == digest
