"""A child is built on this run's parent, by construction, and publish proves it (real engine and registry).

The trap: after a rollout the registry's bare tag `<repo>:<parent>` (bareTagFollowsLatest) holds the parent
production serves. The sample's Dockerfiles name their parent by that tag and every image has a platform,
which makes podman's compat build fetch the tag from the registry even with pull=False. Publish must build
children on the parent it just built (or on the parent's -staging digest), and must refuse to push an image
whose layers do not start with its parent's.
"""

from __future__ import annotations

import json

import pytest

from lifecycle.build import pinning
from lifecycle.catalogue.catalog import split_immutable_tag
from lifecycle.production.gitops import GitOps
from lifecycle.build.labels import BASE_DIGEST
from lifecycle.build.publish import Publisher, head_revision, publish
from lifecycle.registry.pool import RegistryPool
from lifecycle.production.rollout import rollout
from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO
from lifecycle.catalogue.source import WorkTree, run_git
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.gitops_origin import quiet
from tests.fixtures.lifecycle_repo import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.engine]

PARENT_DF = "src/busybox/1.0/amd64/Dockerfile"
TOOL = "src/busybox/1.0/tools/amd64/tool.sh"


def diff_ids(sample, ref: str, repository: str | None = None) -> list[str]:
    repository = repository or sample.repository
    manifest = sample.client.manifest(repository, ref)
    config = json.loads(sample.client.blob(repository, manifest.config.digest))
    return config["rootfs"]["diff_ids"]


def labels(sample, ref: str) -> dict[str, str]:
    return sample.client.config(sample.repository, ref).labels


def publish_main(sample):
    report = publish(sample.root, None, channel="staging", client=sample.client, engine=sample.engine,
                     reporter=quiet())
    return report, {r.tagbase: r for r in report.results}


@pytest.fixture
def rolled_out(sample, tmp_path):
    """v1 published and rolled out: `-latest` and the bare tags hold v1; main then changes the parent."""
    origin = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    run_git(sample.root, "remote", "add", "origin", str(origin))
    run_git(sample.root, "push", "-q", "origin", "HEAD:refs/heads/main", "HEAD:refs/heads/production")
    first, _ = publish_main(sample)
    assert first.ok
    result = rollout(GitOps(sample.root), sample.client, quiet())
    assert result.ok
    v1 = sample.digest(PARENT)
    assert v1 == sample.digest(f"{PARENT}-latest") == sample.digest(f"{PARENT}-staging")
    sample.write(PARENT_DF, f"FROM {sample.names.base}\nRUN echo 'parent v2' > /etc/image-release\n")
    sample.commit("parent v2")
    return v1


def test_children_are_built_on_this_runs_parent_then_on_its_staging_digest(sample, rolled_out):
    v1 = rolled_out
    report, by = publish_main(sample)
    assert report.ok and by[PARENT].status == by[CHILD].status == by[MULTISTAGE].status == "published"
    v2 = by[PARENT].digest
    assert v2 != v1 and sample.digest(PARENT) == v1  # the registry's bare tag still serves the old parent
    v1_layers, v2_layers = diff_ids(sample, v1), diff_ids(sample, v2)
    assert v1_layers[:-1] == v2_layers[:-1] and v1_layers[-1] != v2_layers[-1]  # same base, other parent layer
    child = by[CHILD].digest
    assert diff_ids(sample, child)[:len(v2_layers)] == v2_layers
    assert labels(sample, child)[BASE_DIGEST] == v2
    # the multi-stage image: its builder stage is the new child, its final stage the base's exact digest
    bundle = by[MULTISTAGE].digest
    assert by[MULTISTAGE].bases[sample.names.ref(CHILD)] == child
    assert labels(sample, bundle)[BASE_DIGEST] == sample.base_digest
    base_layers = diff_ids(sample, sample.base_digest, sample.names.base_repository)
    assert diff_ids(sample, bundle)[:len(base_layers)] == base_layers

    # a child-only change: the parent is skipped and the child is built on the parent's -staging digest (v2),
    # not on the bare tag (v1) nor on -latest (v1)
    sample.write(TOOL, "#!/bin/sh\necho \"tool 1.1\"\n")
    sample.commit("tool 1.1")
    report, by = publish_main(sample)
    assert report.ok and by[PARENT].status == "skipped" and by[CHILD].status == "published"
    assert sample.digest(f"{PARENT}-staging") == v2 and sample.digest(f"{PARENT}-latest") == v1
    child2 = by[CHILD].digest
    assert child2 != child
    assert diff_ids(sample, child2)[:len(v2_layers)] == v2_layers
    assert labels(sample, child2)[BASE_DIGEST] == v2
    ref = sample.names.ref(by[CHILD].immutable_tag)
    assert sample.engine.run_test(ref, "cat /usr/local/bin/tool /etc/image-release").output == \
        "#!/bin/sh\necho \"tool 1.1\"\nparent v2\ntools 1\n"


def test_lineage_check_stops_a_child_built_on_the_registrys_stale_parent(sample, rolled_out, monkeypatch, capsys):
    """Without pinning (the Dockerfile as written, as publish used to build it) podman takes the bare tag from
    the registry: the child's layers start with the old parent's. The check fails it before any push."""
    v1 = rolled_out
    monkeypatch.setattr(pinning, "pin", lambda text, dockerfile, pins: text)
    monkeypatch.setenv("DOCKER_HOST", sample.engine.base_url)
    before = sample.tags()
    child_staging = sample.digest(f"{CHILD}-staging")
    code, out, err = run_cli(capsys, "publish", "--repo", str(sample.root), "--all", "--output", "json")
    assert code == 1, err
    v2 = sample.digest(f"{PARENT}-staging")
    assert v2 != v1
    v1_layers, v2_layers = diff_ids(sample, v1), diff_ids(sample, v2)
    assert f"lineage check failed for {CHILD}" in err
    assert f"do not begin with the layers of {sample.names.ref(PARENT)}@{v2}" in err
    for n, layer in enumerate(v2_layers, 1):
        assert f"{n}. {layer}" in err  # the parent's list...
    assert f"{len(v1_layers)}. {v1_layers[-1]}  (differs from base)" in err  # ...and the child's, built on v1
    statuses = {r["tagbase"]: r["status"] for r in json.loads(out)["images"]}
    assert statuses == {PARENT: "published", CHILD: "failed", MULTISTAGE: "blocked",
                        **{t: "skipped" for t in statuses if t not in (PARENT, CHILD, MULTISTAGE)}}
    assert statuses[SOLO] == "skipped"
    new = sample.tags() - before
    assert {split_immutable_tag(t)[0] for t in new if split_immutable_tag(t)} == {PARENT}  # nothing of the child
    assert sample.digest(f"{CHILD}-staging") == child_staging


def test_a_parent_pushed_by_an_earlier_job_is_built_on_by_its_digest(sample):
    """Matrix legs: one job pushes the parent without moving -staging, a later job builds the child on exactly
    that digest (its record seeded into Publisher.built), never on a tag."""
    leg1 = publish(sample.root, [PARENT], channel="staging", client=sample.client, engine=sample.engine,
                   reporter=quiet(), move=False)
    parent = leg1.results[0]
    assert (parent.tagbase, parent.status) == (PARENT, "pushed") and sample.digest(f"{PARENT}-staging") is None

    def leg2(seed):
        ws = Workspace.load(WorkTree(sample.root))
        pool = RegistryPool()
        pool.add(sample.client)
        publisher = Publisher(ws, sample.root, "staging", sample.client, pool, sample.engine, quiet(), move=False,
                              revision=head_revision(sample.root))
        if seed:
            publisher.built[PARENT] = parent
        return publisher.run([CHILD]).results[0]

    unseeded = leg2(False)
    assert unseeded.status == "failed" and f"has no {PARENT}-staging image" in unseeded.reason
    child = leg2(True)
    assert child.status == "pushed" and child.base_digest == parent.digest
    assert labels(sample, child.digest)[BASE_DIGEST] == parent.digest
    parent_layers = diff_ids(sample, parent.digest)
    assert diff_ids(sample, child.digest)[:len(parent_layers)] == parent_layers
