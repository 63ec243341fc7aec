"""Reliability sweep, a misbehaving registry during rollout and reconcile (see test_sweep_faults.py for
publish and cleanup): transient faults are ridden out; a tag move refused for good fails with exit 1
naming the tag, production keeps the merge, and the re-run finishes the tags without another merge."""

from __future__ import annotations


import pytest

from lifecycle.production.gitops import GitOps
from lifecycle.production.reconcile import reconcile
from lifecycle.registry import RegistryClient
from lifecycle.production.rollout import rollout
from lifecycle.sample import PARENT, SOLO, TAGBASES
from tests.e2e.test_sweep_faults import FAST, assert_complete, run_cli
from tests.fixtures.faultproxy import FaultProxy
from tests.fixtures.gitops_origin import quiet

pytestmark = pytest.mark.e2e
SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"


def latest(client, origin) -> dict[str, str | None]:
    return {t: client.try_resolve(origin.repository, f"{t}-latest") for t in TAGBASES}


def merges_of(origin, commit: str) -> list[str]:
    """Merges on production's first-parent line whose second parent is `commit`."""
    from tests.fixtures.gitops_origin import git

    lines = git(origin.bare, "rev-list", "--first-parent", "--merges", "--parents", "production").splitlines()
    return [line.split()[0] for line in lines if line.split()[2:3] == [commit]]


def test_rollout_and_reconcile_through_faults(registry, gitops_origin):
    proxy = FaultProxy(registry.host).start()
    direct = registry.client()
    origin = gitops_origin(proxy.host)   # the catalogue names the proxy: the CLI goes through it too
    agent = str(origin.agent)
    c1 = origin.commit({"README.md": "v1\n"}, "v1")
    staged1 = origin.publish_synthetic(direct, c1)

    # transient faults on every kind of request the rollout makes: it completes
    proxy.inject("429", times=1, method="GET", path=r"/tags/list", retry_after=1)
    proxy.inject("503", times=2, method="HEAD", path=r"/manifests/")
    proxy.inject("drop", times=2, method="GET", path=r"/manifests/")
    proxy.inject("delay", times=1, method="GET", path=r"/blobs/", delay=2.0)   # past the 1s timeout
    proxy.inject("503", times=1, method="PUT", path=r"/manifests/.*-latest$")
    proxy.inject("drop", times=1, method="PUT")
    with RegistryClient(proxy.host, retry=FAST, timeout=1.0) as slow:
        result = rollout(GitOps(origin.agent), slow, quiet())
    assert result.ok and result.pushed
    assert proxy.pending == 0, proxy.log
    assert merges_of(origin, c1) == [origin.head("production")]
    assert latest(direct, origin) == staged1
    tags1 = assert_complete(direct, origin.repository)

    # SOLO v2: its -latest PUT refused for good. Exit 1 naming the tag; the merge is in, nothing else wrong
    c2 = origin.commit({SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    staged2 = origin.publish_synthetic(direct, c2)
    assert set(staged2) == {SOLO}
    proxy.reset()
    proxy.inject("503", times=100, method="PUT", path=rf"/manifests/{SOLO}-latest$")
    failed = run_cli("rollout", "--repo", agent, "--journal", str(origin.root / "j1.json"))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"{SOLO}-latest" in failed.stderr and "run the rollout again" in failed.stderr, failed.stderr
    merge2 = origin.head("production")
    assert merges_of(origin, c2) == [merge2]
    assert latest(direct, origin)[SOLO] == staged1[SOLO]
    after = assert_complete(direct, origin.repository)
    assert set(tags1) <= set(after)
    # the re-run, through transient faults: tags finished, no second merge
    proxy.reset()
    proxy.inject("503", times=1, method="PUT", path=rf"/manifests/{SOLO}-latest$", retry_after=1)
    done = run_cli("rollout", "--repo", agent, "--journal", str(origin.root / "j2.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert origin.head("production") == merge2 and merges_of(origin, c2) == [merge2]
    assert latest(direct, origin) == {**staged1, SOLO: staged2[SOLO]}
    assert direct.resolve(origin.repository, SOLO) == staged2[SOLO]   # bare tag follows latest

    # a revert on production, reconciled through faults: SOLO back to v1's LKG
    origin.revert_on_production(merge2)
    proxy.reset()
    proxy.inject("503", times=100, method="PUT", path=rf"/manifests/{SOLO}-latest$")
    failed = run_cli("reconcile", "--channel", "latest", "--repo", agent)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"{SOLO}-latest" in failed.stdout + failed.stderr and "Traceback" not in failed.stderr, failed.stderr
    assert latest(direct, origin)[SOLO] == staged2[SOLO]
    proxy.reset()
    proxy.inject("429", times=1, method="GET", retry_after=1)
    proxy.inject("drop", times=1, method="PUT")
    proxy.inject("delay", times=1, method="HEAD", delay=2.0)
    with RegistryClient(proxy.host, retry=FAST, timeout=1.0) as slow:
        report = reconcile(GitOps(origin.agent), slow, quiet())
    assert report.ok, report
    assert latest(direct, origin) == staged1
    assert direct.resolve(origin.repository, SOLO) == staged1[SOLO]
    final = assert_complete(direct, origin.repository)
    assert set(tags1) <= set(final) and final[f"{PARENT}-latest"] == staged1[PARENT]
    # once more: a no-op
    done = run_cli("reconcile", "--channel", "latest", "--repo", agent)
    assert done.returncode == 0, done.stderr
    assert assert_complete(direct, origin.repository) == final
    direct.close()
    proxy.stop()
