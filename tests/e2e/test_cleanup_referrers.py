"""Cleanup deletes an image's supply-chain records with it (issue 24): no referrer is left whose subject is
gone, on the plain registry (the `sha256-<hex>` fallback index) and on the ACR stand-in (referrers API).
Retagging (what rollout does) copies only the manifest: the records stay attached to the one digest."""

from __future__ import annotations

import datetime as dt

import pytest

from lifecycle.catalogue.catalog import parse_catalog

from lifecycle.catalogue.policy import parse_policy
from lifecycle.cleanup.registry import apply_plan, read_inventory
from lifecycle.cleanup.rules import Usage, decide
from lifecycle.registry import NotFoundError, referrers
from lifecycle.supplychain import provenance, sbom
from lifecycle.supplychain.eol import attach_eol
from tests.fixtures.images import push_image
from tests.fixtures.lifecycle_repo import catalog_yaml, policy_yaml

pytestmark = pytest.mark.e2e

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, tzinfo=UTC)
APP = "app-1.0-amd64"


@pytest.fixture(params=["fallback", "api"])
def target(request, registry):
    if request.param == "fallback":
        with registry.client() as client:
            yield client, None
    else:
        stand_in = request.getfixturevalue("acr")
        with stand_in.client() as client:
            yield client, stand_in


def _records(client, repo: str, digest: str) -> list[str]:
    attached = [referrers.attach(client, repo, digest, provenance.ARTIFACT_TYPE, b'{"payload":"x"}',
                                 provenance.ARTIFACT_TYPE),
                referrers.attach(client, repo, digest, sbom.MEDIA_TYPE, b'{"bomFormat":"CycloneDX"}', sbom.MEDIA_TYPE),
                attach_eol(client, repo, digest, dt.date(2026, 1, 1))]
    return [r.digest for r in attached]


def _gone(client, repo: str, digest: str) -> bool:
    try:
        client.manifest(repo, digest)
        return False
    except NotFoundError:
        return True


def test_cleanup_deletes_referrers_with_their_subject(target, registry, unique_repo):
    client, stand_in = target
    old, new = (dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC))
    old_tag, new_tag = f"{APP}-{old:%Y%m%d%H%M%S}-aaaaaaa", f"{APP}-{new:%Y%m%d%H%M%S}-bbbbbbb"
    doomed = push_image(client, unique_repo, old_tag, created=old, labels={"n": "old"})
    kept = push_image(client, unique_repo, new_tag, created=new, labels={"n": "new"})
    client.retag(unique_repo, kept, f"{APP}-latest")   # a retag copies the manifest, nothing else
    doomed_records, kept_records = _records(client, unique_repo, doomed), _records(client, unique_repo, kept)
    assert len(referrers.list_referrers(client, unique_repo, kept)) == 3
    if stand_in is None:  # the fallback path: one index tag per subject, tagged sha256-<hex>
        assert {referrers.fallback_tag(doomed), referrers.fallback_tag(kept)} <= set(client.tags(unique_repo))
    before_tags = set(client.tags(unique_repo))
    catalog = parse_catalog(catalog_yaml(registry.host, unique_repo, {APP: None}))
    policy = parse_policy(policy_yaml(retention=180, keep_last=1))
    plan = decide(read_inventory(client, unique_repo, catalog), catalog, policy, Usage(), NOW)
    assert [d.digest for d in plan.deletions] == [doomed]
    if stand_in is None:  # kept on its own, gone with its subject
        decision = next(d for d in plan.decisions if d.tag == referrers.fallback_tag(doomed))
        assert decision.action == "keep" and "referrers fallback index" in decision.reason
    (outcome,) = apply_plan(client, plan, policy, Usage())
    assert outcome.status == "deleted"
    assert outcome.referrers_deleted == 3 + (1 if stand_in is None else 0)   # + the fallback index
    assert _gone(client, unique_repo, doomed)
    assert all(_gone(client, unique_repo, r) for r in doomed_records)
    assert referrers.list_referrers(client, unique_repo, doomed) == []
    # the kept image keeps all three, on either path
    assert sorted(r.digest for r in referrers.list_referrers(client, unique_repo, kept)) == sorted(kept_records)
    assert not any(_gone(client, unique_repo, r) for r in kept_records)
    after_tags = set(client.tags(unique_repo))
    if stand_in is None:
        assert before_tags - after_tags == {old_tag, referrers.fallback_tag(doomed)}
    else:
        assert before_tags - after_tags == {old_tag}
        # the registry's own referrers list names no subject that is gone
        subjects = {s for (repo, s), entries in stand_in.referrers.items() if repo == unique_repo and entries}
        assert subjects == {kept}
    # the retagged tag still names the one digest whose records were attached
    assert client.resolve(unique_repo, f"{APP}-latest") == kept
