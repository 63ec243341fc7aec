"""Reliability sweep, a misbehaving registry: the fault proxy (429 + Retry-After, 503, dropped connections,
answers slower than the client's timeout) in front of the real registry during publish and cleanup (rollout
and reconcile: test_sweep_rollout_faults.py). Each run completes or fails clearly (exit 1 naming what
failed); a re-run reaches the same final state; every tag resolves to a fully pushed image; nothing the
plan kept is deleted."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle.cleanup.rules import CleanupPlan, Usage, decide
from lifecycle.cleanup.registry import apply_plan, load_manifests, read_inventory
from lifecycle.build.labels import ImageLabels
from lifecycle.build.localbase import build_base_image
from lifecycle.output import Reporter
from lifecycle.build.publish import publish
from lifecycle.registry import RegistryClient, RetryPolicy
from lifecycle.sample import SOLO, TAGBASES, SampleNames, write_sample
from lifecycle.catalogue.source import WorkTree, run_git
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.faultproxy import FaultProxy
from tests.fixtures.images import push_image, push_multiplatform
from tests.fixtures.lifecycle_repo import gitops_repo, policy_yaml
from tests.fixtures.registry import ENGINE_PORTS, free_port

pytestmark = pytest.mark.e2e
UTC = dt.timezone.utc
FAST = RetryPolicy(attempts=5, backoff=0.05, max_backoff=0.3, total=20.0)


# -- shared by the sweep's tests -------------------------------------------------------------------

def assert_complete(client: RegistryClient, repo: str) -> dict[str, str]:
    """Every tag of `repo` resolves to a manifest whose config and layers (and children's) can be fetched
    whole; returns tag -> digest."""
    tags = {}
    seen: set[str] = set()

    def check(ref: str) -> str:
        manifest = client.manifest(repo, ref)
        if manifest.digest in seen:
            return manifest.digest
        seen.add(manifest.digest)
        body = json.loads(manifest.raw)
        for child in body.get("manifests") or []:
            check(child["digest"])
        for blob in ([body["config"]] if "config" in body else []) + list(body.get("layers") or []):
            data = client.blob(repo, blob["digest"])
            assert "sha256:" + hashlib.sha256(data).hexdigest() == blob["digest"], f"{ref}: blob {blob['digest']}"
            assert len(data) == blob["size"], f"{ref}: blob {blob['digest']} truncated"
        return manifest.digest

    for tag in client.tags(repo):
        tags[tag] = check(tag)
    return tags


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lifecycle", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, timeout=600)


# -- publish -----------------------------------------------------------------------------------------

@pytest.fixture
def engine_proxy(registry):
    """A fault proxy the engine can push through (its port is in registries.conf's plain-HTTP range)."""
    proxy = FaultProxy(registry.host, port=free_port(ENGINE_PORTS)).start()
    yield proxy
    proxy.stop()


def staging_state(client: RegistryClient, root: Path, repo: str) -> dict[str, str]:
    """tagbase -> definition label of its -staging image; asserts the label matches the working tree."""
    ws = Workspace.load(WorkTree(root))
    state = {}
    for tagbase in TAGBASES:
        digest = client.resolve(repo, f"{tagbase}-staging")
        labels = ImageLabels.read(client.config(repo, digest).labels, ws.policy)
        state[tagbase] = labels.definition
        assert labels.definition == ws.definitions[tagbase], f"{tagbase}-staging is not the working tree's"
    return state


def test_publish_through_faults_completes_or_fails_clearly(registry, engine, engine_proxy, tmp_path, request):
    names = SampleNames(engine_proxy.host, repository=f"sweep-{os.getpid()}-{request.node.name[-6:]}/prereqs",
                        base_repository=f"sweep-{os.getpid()}/base")
    build_base_image(engine, names.base, marker="sweep faults base")
    root = write_sample(tmp_path / "repo", names)
    repo = names.repository
    direct = registry.client()
    # our client's requests only (tag moves, channel look-ups, config reads): the engine retries on its own
    engine_proxy.inject("429", times=1, method="HEAD", path=r"/manifests/.*-staging$", retry_after=1)
    engine_proxy.inject("503", times=2, method="PUT", path=r"/manifests/.*-staging$")
    engine_proxy.inject("drop", times=1, method="GET", path=r"/manifests/")
    engine_proxy.inject("delay", times=1, method="HEAD", path=r"/manifests/busybox-1\.0-amd64-\d", delay=2.0)
    with RegistryClient(engine_proxy.host, retry=FAST, timeout=1.0) as client:
        report = publish(root, None, channel="staging", client=client, engine=engine, reporter=Reporter())
        assert report.ok, [(r.tagbase, r.status, r.reason) for r in report.results]
        assert sorted(report.by_status("published")) == sorted(TAGBASES)
        assert engine_proxy.pending == 0, f"faults not reached: {engine_proxy.log}"
        first = staging_state(direct, root, repo)
        tags = assert_complete(direct, repo)
        # a re-run through more faults finds everything published: no build, no tag change
        engine_proxy.inject("503", times=3, method="HEAD")
        engine_proxy.inject("drop", times=2, method="GET")
        again = publish(root, None, channel="staging", client=client, engine=engine, reporter=Reporter())
        assert sorted(again.by_status("skipped")) == sorted(TAGBASES)
        assert assert_complete(direct, repo) == tags

    # a change to SOLO, and its -staging move refused for good: exit 1 naming it, nothing half-done
    (root / "src/busybox/1.0/solo/amd64/Dockerfile").write_text(
        f"FROM {names.base}\nRUN echo 'solo v2' > /etc/solo-release\n")
    run_git(root, "commit", "-qam", "solo v2")
    engine_proxy.reset()
    engine_proxy.inject("503", times=100, method="PUT", path=rf"/manifests/{SOLO}-staging$")
    env = {"DOCKER_HOST": engine.base_url}
    failed = run_cli("publish", "--channel", "staging", "--all", "--repo", str(root), env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert SOLO in failed.stderr and "503" in failed.stderr and "Traceback" not in failed.stderr, failed.stderr
    after_failure = assert_complete(direct, repo)
    assert after_failure[f"{SOLO}-staging"] == tags[f"{SOLO}-staging"]       # did not move
    assert {t: d for t, d in after_failure.items() if t in tags} == tags      # nothing else moved
    # the re-run finishes the job
    engine_proxy.reset()
    engine_proxy.inject("429", times=1, method="PUT", path=rf"/manifests/{SOLO}-staging$", retry_after=1)
    done = run_cli("publish", "--channel", "staging", "--all", "--repo", str(root), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    final = staging_state(direct, root, repo)
    assert final[SOLO] != first[SOLO] and {t: final[t] for t in TAGBASES if t != SOLO} == \
        {t: first[t] for t in TAGBASES if t != SOLO}
    assert_complete(direct, repo)
    direct.close()


# -- cleanup -----------------------------------------------------------------------------------------

APP = "app-1.0-amd64"
NOW = dt.datetime(2026, 11, 27, tzinfo=UTC)


def imm(tagbase: str, when: dt.datetime) -> str:
    return f"{tagbase}-{when:%Y%m%d%H%M%S}-{hashlib.sha1(str(when).encode()).hexdigest()[:7]}"


def cleanup_scenario(client: RegistryClient, repo: str) -> str:
    """Old and new immutable tags, two old multi-platform indexes, -latest on an old one. Returns the
    digest of an old index the plan deletes."""
    for i in range(10):
        when = dt.datetime(2025, 1, 1, tzinfo=UTC) + dt.timedelta(days=30 * i)
        push_image(client, repo, imm(APP, when), created=when, labels={"i": str(i)})
    old = dt.datetime(2024, 6, 1, tzinfo=UTC)
    index, _ = push_multiplatform(client, repo, imm(APP, old), created=old, labels={"index": "old"})
    older = dt.datetime(2024, 5, 1, tzinfo=UTC)
    kept, _ = push_multiplatform(client, repo, imm(APP, older), created=older, labels={"index": "latest"})
    client.retag(repo, kept, f"{APP}-latest")
    return index


def test_cleanup_through_faults(registry, tmp_path, unique_repo):
    proxy = FaultProxy(registry.host).start()
    direct = registry.client()
    index = cleanup_scenario(direct, unique_repo)
    repo = gitops_repo(tmp_path, proxy.host, unique_repo, {APP: "FROM 127.0.0.1:1/base/os:1\n"},
                       policy=policy_yaml(retention=180, keep_last=2))
    catalog, policy = load_manifests(repo)
    expected = decide(read_inventory(direct, unique_repo, catalog), catalog, policy, Usage(), NOW)
    doomed = {x.digest for x in expected.deletions} | {c for x in expected.deletions for c in x.children}
    assert index in doomed and len(expected.deletions) >= 5
    kept_tags = {d.tag: d.digest for d in expected.decisions if d.action == "keep"}
    children = next(x.children for x in expected.deletions if x.digest == index)
    assert len(children) == 2

    # planning through faults gives the plan a calm registry gives
    proxy.inject("429", times=1, method="GET", path=r"/tags/list", retry_after=1)
    proxy.inject("drop", times=2, method="GET", path=r"/manifests/")
    proxy.inject("503", times=1, method="HEAD", path=r"/manifests/")
    plan_file = tmp_path / "plan.json"
    done = run_cli("cleanup", "--repo", str(repo), "--plan-file", str(plan_file), "--now", NOW.isoformat())
    assert done.returncode == 0, done.stderr
    assert proxy.pending == 0, proxy.log
    planned = CleanupPlan.load(plan_file)
    assert planned.deletions == expected.deletions and planned.decisions == expected.decisions

    # apply: the index's DELETE refused for good, transient faults on the rest: exit 1 naming the index
    proxy.reset()
    proxy.inject("503", times=100, method="DELETE", path=rf"/manifests/{index}$")
    proxy.inject("503", times=1, method="DELETE")
    proxy.inject("drop", times=1, method="DELETE")
    proxy.inject("429", times=1, method="HEAD", retry_after=1)
    done = run_cli("cleanup", "--repo", str(repo), "--from-plan", str(plan_file), "--apply")
    assert done.returncode == 1, done.stdout + done.stderr
    assert index in done.stderr and "503" in done.stderr and "re-run" in done.stderr, done.stderr
    assert direct.try_resolve(unique_repo, index) == index
    left = assert_complete(direct, unique_repo)
    assert {t: d for t, d in left.items() if t in kept_tags} == kept_tags
    assert {d for d in left.values()} - {index} <= set(kept_tags.values())

    # re-run with a client whose timeout is shorter than the registry's answer: the first DELETE of the
    # index is applied but its answer never arrives; the retry finds it gone. Its children must go too.
    proxy.reset()
    proxy.inject("delay", times=2, method="DELETE", path=rf"/manifests/{index}$", delay=2.0)
    with RegistryClient(proxy.host, retry=FAST, timeout=1.0) as slow:
        outcomes = apply_plan(slow, planned, policy, Usage())
    assert not [o for o in outcomes if o.status == "failed"], outcomes
    assert {o.digest for o in outcomes if o.status == "deleted" or "gone" in o.detail} >= {index}
    for digest in doomed:
        assert direct.try_resolve(unique_repo, digest) is None, f"{digest} survived (index child orphaned?)"
    final = assert_complete(direct, unique_repo)
    assert final == kept_tags

    # and once more: nothing left to do, nothing else deleted
    done = run_cli("cleanup", "--repo", str(repo), "--from-plan", str(plan_file), "--apply")
    assert done.returncode == 0, done.stderr
    assert assert_complete(direct, unique_repo) == kept_tags
    direct.close()
    proxy.stop()
