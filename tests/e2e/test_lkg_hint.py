"""The LKG lookup's shortcut through git (lkg.definitions_at): labels are read only where a tag would move,
and a hint that disagrees with the labels is never trusted."""

from __future__ import annotations

import datetime as dt

import pytest

from lifecycle.production.gitops import GitOps
from lifecycle.production.lkg import LkgResolver
from lifecycle.production.reconcile import reconcile
from lifecycle.registry import ANONYMOUS, RegistryClient
from lifecycle.production.rollout import rollout
from lifecycle.sample import SOLO, TAGBASES
from tests.fixtures.gitops_origin import quiet
from tests.fixtures.images import push_image
from tests.fixtures.registry import TEST_RETRY

pytestmark = pytest.mark.e2e
SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"
LABEL = "io.test.definition"
TB = "os-1.0-tool-amd64"


def test_reconcile_after_a_revert_reads_the_labels_of_the_moving_image_only(origin, client, fault_proxy):
    first = origin.publish_synthetic(client, origin.initial)
    rollout(GitOps(origin.agent), client, quiet())
    c1 = origin.commit({SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    v2 = origin.publish_synthetic(client, c1)[SOLO]
    merge = rollout(GitOps(origin.agent), client, quiet()).plan.merge
    assert client.resolve(origin.repository, f"{SOLO}-latest") == v2
    origin.revert_on_production(merge)

    with RegistryClient(fault_proxy.host, credentials=ANONYMOUS, retry=TEST_RETRY) as proxied:
        fault_proxy.reset()
        report = reconcile(GitOps(origin.agent), proxied, quiet())
    assert report.ok
    latest = {t: client.resolve(origin.repository, f"{t}-latest") for t in TAGBASES}
    assert latest == first                                  # SOLO back on v1, the others where they were
    configs = [p for m, p, _ in fault_proxy.log if m == "GET" and "/blobs/" in p]
    assert len(configs) == 1                                # the labels of SOLO's v1 digest, nothing else
    puts = [p for m, p, _ in fault_proxy.log if m == "PUT"]
    assert sorted(p.rsplit("/", 1)[1] for p in puts) == sorted([f"{SOLO}-latest", SOLO])


def test_a_hint_that_disagrees_with_the_labels_falls_back_to_the_labels(registry, unique_repo):
    when = [dt.datetime(2026, 3, d, tzinfo=dt.timezone.utc) for d in (1, 2)]
    with registry.client() as c:
        d1 = push_image(c, unique_repo, f"{TB}-20260301000000-aaaaaaa", labels={LABEL: "d1"}, created=when[0])
        d2 = push_image(c, unique_repo, f"{TB}-20260302000000-bbbbbbb", labels={LABEL: "d2"}, created=when[1])
        lying = LkgResolver(c, unique_repo, LABEL, hint=lambda revision: {TB: "d1"})  # git says d1 everywhere
        assert lying.lkg(TB, "d1").digest == d1               # the labels of bbbbbbb say d2: not trusted
        unknown = LkgResolver(c, unique_repo, LABEL, hint=lambda revision: None)     # commits unknown here
        assert unknown.lkg(TB, "d2").digest == d2
        honest = LkgResolver(c, unique_repo, LABEL, hint=lambda r: {TB: {"aaaaaaa": "d1", "bbbbbbb": "d2"}[r]})
        c.reset_stats()
        assert honest.lkg(TB, "d1").digest == d1
        # tag list (the client probed for ACR's listing once, above) + aaaaaaa's manifest and config; HEADs
        # of aaaaaaa and -latest; bbbbbbb, whose commit has another definition, is never read
        assert c.stats == {"GET": 3, "HEAD": 2}
