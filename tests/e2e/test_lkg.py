"""LKG resolution against the real registry, counting the requests that reach it (through the fault proxy,
which logs every request): tags listed once, each tag resolved once, each digest's config read once."""

from __future__ import annotations

import datetime as dt

import pytest

from lifecycle.production.lkg import NO_IMAGES, NO_MATCH, LkgResolver
from lifecycle.registry import ANONYMOUS, RegistryClient
from tests.fixtures.images import push_image
from tests.fixtures.registry import TEST_RETRY

pytestmark = pytest.mark.e2e
LABEL = "io.test.definition"
TB = "os-1.0-tool-amd64"


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, tzinfo=dt.timezone.utc)


def test_newest_digest_per_definition_with_one_read_per_digest(registry, fault_proxy, unique_repo):
    client = registry.client()
    repo = unique_repo
    a_old = push_image(client, repo, f"{TB}-20260301000000-aaaaaaa", labels={LABEL: "sha256:A"}, created=at(1))
    a_new = push_image(client, repo, f"{TB}-20260302000000-bbbbbbb", labels={LABEL: "sha256:A"}, created=at(2))
    client.retag(repo, a_new, f"{TB}-20260303000000-ccccccc")   # a second tag on the same digest
    b = push_image(client, repo, f"{TB}-20260304000000-ddddddd", labels={LABEL: "sha256:B"}, created=at(4))
    client.retag(repo, b, f"{TB}-staging")
    other = push_image(client, repo, f"{TB}-extra-20260305000000-eeeeeee", labels={LABEL: "sha256:A"},
                       created=at(5))  # another tag base whose name starts with ours: never a match for TB

    proxied = RegistryClient(fault_proxy.host, credentials=ANONYMOUS, retry=TEST_RETRY)
    fault_proxy.reset()
    resolver = LkgResolver(proxied, repo, LABEL)
    found = resolver.lkg(TB, "sha256:A")
    assert (found.digest, found.tag) == (a_new, f"{TB}-20260303000000-ccccccc")
    assert found.built_at == dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc)
    assert resolver.lkg(TB, "sha256:B").digest == b
    missing = resolver.lkg(TB, "sha256:C")
    assert missing.digest is None and missing.reason == NO_MATCH
    assert resolver.lkg("never-1.0-amd64", "sha256:A").reason == NO_IMAGES
    assert resolver.lkg(f"{TB}-extra", "sha256:A").digest == other
    assert a_old not in {found.digest, b}

    log = list(fault_proxy.log)
    assert sum(1 for m, p, _ in log if m == "GET" and p.split("?")[0].endswith("/tags/list")) == 1
    heads = [p for m, p, _ in log if m == "HEAD" and "/manifests/" in p]
    assert len(heads) == len(set(heads)) == 5             # every immutable tag resolved once, staging never
    blobs = [p for m, p, _ in log if m == "GET" and "/blobs/" in p]
    assert len(blobs) == len(set(blobs)) == 4             # one config per distinct digest (a_old, a_new, b, other)

    fault_proxy.reset()
    assert resolver.lkgs({TB: "sha256:A", f"{TB}-extra": "sha256:A"})[TB].digest == a_new
    assert fault_proxy.requests == 0                      # everything came from the run's cache
    assert resolver.previous(TB, b).tag == f"{TB}-20260303000000-ccccccc"
    assert resolver.previous(TB, a_old) is None
    proxied.close()
    client.close()
