"""ACR's tag listing with digests (registry/acr.py) against the stand-in over the real registry, and the
fallback to the distribution API on a registry without it."""

from __future__ import annotations

import datetime as dt

import pytest

from lifecycle.catalogue.catalog import Catalog, ImageSpec, Platform

from lifecycle.catalogue.policy import Policy
from lifecycle.cleanup.rules import DELETE, Usage, decide
from lifecycle.cleanup.registry import read_inventory
from lifecycle.production.lkg import LkgResolver
from tests.fixtures.images import make_layer, push_image

pytestmark = pytest.mark.e2e

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, tzinfo=UTC)
APP = "app-1.0-amd64"


def imm(when: dt.datetime, i: int) -> str:
    return f"{APP}-{when:%Y%m%d%H%M%S}-{i:07x}"


def spread(client, repo: str, digest: str, tags: list[str]) -> None:
    """Put `digest`'s manifest under every tag (concurrently)."""
    manifest = client.manifest(repo, digest)
    client.map(lambda t: client.put_manifest(repo, t, manifest.raw, manifest.media_type), tags)


def test_listing_follows_pages_after_a_bearer_challenge_and_matches_the_registry(acr, registry, unique_repo):
    with registry.client() as direct:
        one = push_image(direct, unique_repo, "t-00", labels={"n": "1"})
        two = push_image(direct, unique_repo, "t-01", labels={"n": "2"})
        spread(direct, unique_repo, one, [f"t-{i:02d}" for i in range(2, 23, 2)])
        spread(direct, unique_repo, two, [f"t-{i:02d}" for i in range(3, 23, 2)])
        expected = {t: direct.resolve(unique_repo, t) for t in direct.tags(unique_repo)}
    assert len(expected) == 23
    with acr.client() as client:
        details = client.tag_details(unique_repo, page_size=5)
        stats = client.stats
    assert {d.name: d.digest for d in details} == expected
    assert [d.name for d in details] == sorted(expected)                # ordered by name, nothing twice
    assert all(d.created and d.updated and not d.locked for d in details)
    assert acr.counts["acr"] == 5                                       # ceil(23 / 5) pages
    assert acr.counts["401"] == 1 and acr.counts["token"] == 1           # one challenge, one token
    assert stats == {"GET": 6}                                          # 5 pages + the challenged first try
    assert client.capabilities == {"acr-tags": True}


def test_a_registry_without_the_listing_is_probed_once_then_asked_with_heads(registry, unique_repo):
    with registry.client() as client:
        digest = push_image(client, unique_repo, "a")
        spread(client, unique_repo, digest, ["b", "c"])
        client.reset_stats()
        assert client.tag_digests(unique_repo) == {"a": digest, "b": digest, "c": digest}
        assert client.stats == {"GET": 2, "HEAD": 3}                    # probe, tag list, a HEAD per tag
        assert client.capabilities == {"acr-tags": False}
        client.reset_stats()
        assert client.tag_details(unique_repo) is None
        assert client.tag_digests(unique_repo) == {"a": digest, "b": digest, "c": digest}
        assert client.stats == {"GET": 1, "HEAD": 3}                    # no second probe


def test_an_unknown_repository_on_acr_lists_no_tags(acr):
    with acr.client() as client:
        assert client.tag_details("nobody/here") == []
        assert client.tag_digests("nobody/here") == {}
        assert client.capabilities == {"acr-tags": True}


@pytest.fixture
def fleet(registry, unique_repo):
    """600 immutable tags of one tag base over three digests: 2024 (old), 2025 (old), 2026 (new)."""
    layer = make_layer({"etc/os-release": b"acr\n"})
    with registry.client(concurrency=16) as client:
        digests = {year: push_image(client, unique_repo, None, labels={"year": str(year)}, layers=[layer],
                                    created=dt.datetime(year, 1, 1, tzinfo=UTC)) for year in (2024, 2025, 2026)}
        tags: dict[int, list[str]] = {}
        for year, count in ((2024, 300), (2025, 295), (2026, 5)):
            start = dt.datetime(year, 1, 1, tzinfo=UTC)
            tags[year] = [imm(start + dt.timedelta(hours=i), i) for i in range(count)]
            spread(client, unique_repo, digests[year], tags[year])
        spread(client, unique_repo, digests[2026], [f"{APP}-staging", f"{APP}-latest"])
    catalog = Catalog(registry.host, unique_repo, (ImageSpec(APP, "src/app", Platform("linux", "amd64")),))
    policy = Policy(("*",), "test", retention_days=180, keep_last=3, retired_grace_days=30)
    return unique_repo, catalog, policy, digests, tags


def test_cleanup_plan_on_acr_costs_under_002_requests_per_tag_and_never_plans_a_locked_tag(acr, registry, fleet):
    repo, catalog, policy, digests, tags = fleet
    locked = tags[2025][17]
    acr.lock(repo, locked)
    with acr.client() as client:
        inventory = read_inventory(client, repo, catalog)
        stats = client.stats
    plan = decide(inventory, catalog, policy, Usage(), NOW)
    n_tags = len(inventory.tags)
    assert n_tags == 602
    assert "HEAD" not in stats                                           # no HEAD per tag: the listing has digests
    assert sum(stats.values()) / n_tags <= 0.02, stats                   # 1 page + 3 manifests + 1 challenge
    assert inventory.locked == frozenset({locked})
    assert [x.digest for x in plan.deletions] == [digests[2024]]
    by_tag = {d.tag: d for d in plan.decisions}
    assert by_tag[locked].locked and by_tag[locked].action != DELETE and "locked" in by_tag[locked].reason
    assert all(by_tag[t].action != DELETE for t in tags[2025])           # one locked tag keeps its digest
    assert plan.totals()["locked"] == 1

    # the same registry without the listing: same tags and digests, a HEAD each, no lock known
    with registry.client(concurrency=8) as plain:
        again = read_inventory(plain, repo, catalog)
        assert plain.stats["HEAD"] == n_tags
    assert again.tags == inventory.tags and again.locked == frozenset()
    assert {x.digest for x in decide(again, catalog, policy, Usage(), NOW).deletions} == {digests[2024], digests[2025]}


def test_a_locked_digest_cannot_be_deleted_through_the_stand_in(acr, registry, fleet):
    repo, catalog, policy, digests, tags = fleet
    acr.lock(repo, tags[2024][0])
    from lifecycle.registry import RegistryError
    with acr.client() as client, pytest.raises(RegistryError, match="405"):
        client.delete(repo, digests[2024])
    with registry.client() as direct:
        assert direct.resolve(repo, tags[2024][0]) == digests[2024]


def test_lkg_lookup_on_acr_resolves_no_tag(acr, registry, unique_repo):
    label = "org.example.lifecycle.definition"
    with registry.client() as direct:
        old = push_image(direct, unique_repo, imm(dt.datetime(2026, 1, 1, tzinfo=UTC), 1), labels={label: "d1"})
        new = push_image(direct, unique_repo, imm(dt.datetime(2026, 2, 1, tzinfo=UTC), 2), labels={label: "d2"})
    with acr.client() as client:
        resolver = LkgResolver(client, unique_repo, label)
        found = resolver.lkgs({APP: "d1"})
        assert found[APP].digest == old and found[APP].tag.endswith("-0000001")
        assert resolver.listed_digests()[imm(dt.datetime(2026, 2, 1, tzinfo=UTC), 2)] == new
        assert "HEAD" not in client.stats


def test_a_no_op_rollout_on_acr_costs_the_listing_only(acr, origin, client):
    from lifecycle.production.gitops import GitOps
    from lifecycle.production.rollout import rollout
    from lifecycle.sample import TAGBASES
    from tests.fixtures.gitops_origin import quiet

    published = origin.publish_synthetic(client, origin.initial)
    with acr.client() as via_acr:
        first = rollout(GitOps(origin.agent), via_acr, quiet())
        assert {e.tag: e.status for e in first.entries if e.tag.endswith("-latest")} == \
            {f"{t}-latest": "moved" for t in TAGBASES}
    before = dict(acr.counts)
    with acr.client() as via_acr:
        again = rollout(GitOps(origin.agent), via_acr, quiet())
        stats = via_acr.stats
    assert again.ok and {e.status for e in again.entries} == {"unchanged"}
    assert {t: client.resolve(origin.repository, f"{t}-latest") for t in TAGBASES} == published
    assert acr.counts["acr"] - before.get("acr", 0) == 1          # one listing page
    assert acr.counts["v2"] == before.get("v2", 0)                # no HEAD, no label read, no PUT
    assert stats == {"GET": 2}                                     # the page and its Bearer challenge
