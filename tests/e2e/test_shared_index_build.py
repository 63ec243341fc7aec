"""A multi-platform shared tag with images built for real: one folder built for amd64 and for arm64 (v8, under
QEMU emulation) on a base that is itself an index, under a catalogue-level shared tag. Publish pushes the index
over exactly the two digests it just published; rollout moves `<tag>` and `<tag>-latest` to it; a change gives a
new index; a revert on production and the reconcile bring back the earlier index byte for byte; cleanup keeps
the index's children. A revert to a definition no digest has: reconcile builds both platforms and moves the
index over the two new digests. (tests/e2e/test_shared_index.py walks the same flows with synthetic images.)"""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pytest

from lifecycle.build.engine import Engine
from lifecycle.build.localbase import build_base_index
from lifecycle.build.publish import publish
from lifecycle.cleanup.registry import read_inventory
from lifecycle.cleanup.rules import Usage, decide
from lifecycle.production.gitops import GitOps
from lifecycle.production.reconcile import publish_with, reconcile
from lifecycle.production.rollout import rollout
from lifecycle.registry.models import OCI_INDEX
from lifecycle.sample import BASE_PLATFORMS, SOLO, SOLO_ARM64, SOLO_SHARED
from tests.fixtures.gitops_origin import quiet

pytestmark = [pytest.mark.e2e, pytest.mark.engine]

SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"


def catalogue(registry: str, repository: str, base: str) -> dict[str, str]:
    """Only SOLO and its arm64 sibling (one Dockerfile), so the test builds four images in all."""
    d = textwrap.dedent
    return {
        "manifests/images.yml": d(f"""\
            registry: {registry}
            repository: {repository}
            sharedTags:
              {SOLO_SHARED}: [{SOLO}, {SOLO_ARM64}]
            images:
              - tagBase: {SOLO}
                dockerfile: src/busybox/1.0/solo/amd64
                platform: {{os: linux, architecture: amd64}}
                tests: ['test "$(uname -m)" = x86_64']
              - tagBase: {SOLO_ARM64}
                dockerfile: src/busybox/1.0/solo/amd64
                platform: {{os: linux, architecture: arm64, variant: v8}}
                tests: ['test "$(uname -m)" = aarch64', "grep -qx 'solo aarch64' /etc/solo-release"]
            """),
        "manifests/policy.yml": d(f"""\
            approvedBases: ["{base.rsplit(':', 1)[0]}:*"]
            labelPrefix: io.lifecycle
            maxAgeDays: 30
            retention: {{days: 90, keepLast: 1}}
            """),
        SOLO_DF: f'FROM {base}\nRUN echo "solo $(uname -m)" > /etc/solo-release\n',
    }


def children(client, repository: str, ref: str) -> list[tuple[str, dict[str, str]]]:
    manifest = client.manifest(repository, ref)
    assert manifest.media_type == OCI_INDEX
    return [(m["digest"], m["platform"]) for m in json.loads(manifest.raw)["manifests"]]


def published(client, origin, engine) -> dict[str, str]:
    report = publish(origin.dev, None, channel="staging", client=client, engine=engine, reporter=quiet())
    by = {r.tagbase: r for r in report.results}
    assert report.ok, {t: r.reason for t, r in by.items()}
    assert {t: r.status for t, r in by.items()} == {SOLO: "published", SOLO_ARM64: "published"}
    assert [(i.tag, i.status) for i in report.indexes] == [(f"{SOLO_SHARED}-staging", "moved")]
    digests = {t: r.digest for t, r in by.items()}
    # the index publish pushed names exactly the two images it just built, with the catalogue's platforms
    assert children(client, origin.repository, f"{SOLO_SHARED}-staging") == [
        (digests[SOLO], {"architecture": "amd64", "os": "linux"}),
        (digests[SOLO_ARM64], {"architecture": "arm64", "os": "linux", "variant": "v8"})]
    assert report.indexes[0].digest == client.resolve(origin.repository, f"{SOLO_SHARED}-staging")
    assert client.config(origin.repository, digests[SOLO_ARM64]).platform.architecture == "arm64"
    return digests


def test_two_platform_build_index_through_rollout_revert_and_cleanup(gitops_origin, registry, engine, client):
    origin = gitops_origin(registry.host)
    repository = origin.repository
    base = f"{registry.host}/{repository}-base:1"
    build_base_index(engine, client, base, BASE_PLATFORMS, marker="shared index base")
    c1 = origin.commit(catalogue(registry.host, repository, base), "solo on amd64 and arm64")
    v1 = published(client, origin, engine)
    v1_index = client.resolve(repository, f"{SOLO_SHARED}-staging")
    v1_raw = client.manifest(repository, v1_index).raw

    first = rollout(GitOps(origin.agent), client, quiet())
    assert first.ok
    assert client.resolve(repository, SOLO_SHARED) == client.resolve(repository, f"{SOLO_SHARED}-latest") == v1_index
    assert {t: client.resolve(repository, f"{t}-latest") for t in v1} == v1

    # a change to the shared folder: both platforms rebuilt, a new index, rolled out
    origin.commit({SOLO_DF: origin.show(c1, SOLO_DF) + "RUN echo v2 >> /etc/solo-release\n"}, "solo v2")
    v2 = published(client, origin, engine)
    assert set(v2.values()).isdisjoint(v1.values())
    second = rollout(GitOps(origin.agent), client, quiet())
    assert second.ok
    v2_index = client.resolve(repository, SOLO_SHARED)
    assert v2_index != v1_index and client.resolve(repository, f"{SOLO_SHARED}-latest") == v2_index
    assert [d for d, _ in children(client, repository, SOLO_SHARED)] == [v2[SOLO], v2[SOLO_ARM64]]
    assert {e.tag: (e.previous, e.new) for e in second.journal.tags}[SOLO_SHARED] == (v1_index, v2_index)

    # a revert on production and the reconcile: the earlier index again, the very same bytes
    origin.revert_on_production(second.plan.merge)
    assert reconcile(GitOps(origin.agent), client, quiet()).ok
    assert client.resolve(repository, SOLO_SHARED) == client.resolve(repository, f"{SOLO_SHARED}-latest") == v1_index
    assert client.manifest(repository, SOLO_SHARED).raw == v1_raw
    assert client.resolve(repository, f"{SOLO_SHARED}-staging") == v2_index

    # cleanup long past retention: neither index nor any of their children goes
    ws = origin.workspace("main")
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=ws.policy.retention_days + 1)
    plan = decide(read_inventory(client, repository, ws.catalog), ws.catalog, ws.policy, Usage(), when)
    doomed = {x.digest for x in plan.deletions} | {c for x in plan.deletions for c in x.children}
    assert doomed.isdisjoint({v1_index, v2_index, *v1.values(), *v2.values()})
    immutable = {d.digest: d for d in plan.decisions if d.kind == "immutable"}
    assert set(immutable) == {*v1.values(), *v2.values()}
    assert {d.action for d in immutable.values()} == {"keep"}
    assert all(immutable[d].candidate for d in v1.values())  # past retention and not the newest: only kept


def test_a_revert_to_a_never_published_definition_rebuilds_both_platforms_and_moves_the_index(
        gitops_origin, registry, engine, client):
    origin = gitops_origin(registry.host)
    repository = origin.repository
    base = f"{registry.host}/{repository}-base:1"
    build_base_index(engine, client, base, BASE_PLATFORMS, marker="shared index rebuild base")
    c1 = origin.commit(catalogue(registry.host, repository, base), "solo on amd64 and arm64 (never published)")
    c2 = origin.commit({SOLO_DF: origin.show(c1, SOLO_DF) + "RUN echo v2 >> /etc/solo-release\n"}, "solo v2")
    v2 = published(client, origin, engine)
    assert rollout(GitOps(origin.agent), client, quiet()).ok
    v2_index = client.resolve(repository, SOLO_SHARED)

    origin.revert_on_production(c2)   # back to c1's definition: no digest has it
    report = reconcile(GitOps(origin.agent), client, quiet(),
                       publish_missing=publish_with(lambda: Engine(engine.base_url), client, quiet()))
    assert report.ok and report.built == [SOLO, SOLO_ARM64], report.unresolved
    new = {t: client.resolve(repository, f"{t}-latest") for t in (SOLO, SOLO_ARM64)}
    assert set(new.values()).isdisjoint(v2.values())
    assert client.config(repository, new[SOLO_ARM64]).platform.architecture == "arm64"
    index = client.resolve(repository, SOLO_SHARED)
    assert index == client.resolve(repository, f"{SOLO_SHARED}-latest") != v2_index
    assert [d for d, _ in children(client, repository, SOLO_SHARED)] == [new[SOLO], new[SOLO_ARM64]]
    moved = {e.tag: (e.previous, e.new) for e in report.entries if e.status == "moved"}
    assert moved[SOLO_SHARED] == moved[f"{SOLO_SHARED}-latest"] == (v2_index, index)   # journaled for the emergency path
    assert moved[f"{SOLO}-latest"] == (v2[SOLO], new[SOLO])
    assert client.resolve(repository, f"{SOLO_SHARED}-staging") == v2_index   # staging is main's business
    again = reconcile(GitOps(origin.agent), client, quiet(), publish_missing=lambda *_: pytest.fail("rebuilt"))
    assert again.ok and all(e.status == "unchanged" for e in again.entries)
