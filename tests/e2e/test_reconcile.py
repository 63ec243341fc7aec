"""Production reconcile end to end: a push to production moves every `latest` to its definition's LKG;
a definition with no published digest is built, tested and published from production with the real engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lifecycle.build import labels as labels_mod
from lifecycle.production.gitops import GitOps
from lifecycle.production.reconcile import reconcile
from lifecycle.production.rollout import rollout
from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO, TAGBASES
from tests.fixtures.gitops_origin import quiet

SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"
CATALOG = "manifests/images.yml"

pytestmark = pytest.mark.e2e





def tag(client, origin, name: str) -> str | None:
    return client.try_resolve(origin.repository, name)


def test_reverting_to_a_never_published_definition_builds_it_from_production(origin, client, engine, base_image):
    solo_v2 = origin.show(origin.initial, SOLO_DF).replace("solo v1", "solo v2")
    c1 = origin.commit({SOLO_DF: solo_v2}, "solo v2")
    staged = origin.publish_synthetic(client, c1)   # the v1 definition of SOLO was never published
    rollout(GitOps(origin.agent), client, quiet())
    assert tag(client, origin, f"{SOLO}-latest") == staged[SOLO]
    v1_definition = origin.workspace(origin.initial).definitions[SOLO]

    revert = origin.revert_on_production(c1)   # a single Dockerfile change, not the rollout merge
    assert origin.show("production", SOLO_DF) == origin.show(origin.initial, SOLO_DF)
    tags_before = set(client.tags(origin.repository))

    # as production's pipeline runs it: the CLI, with the engine on DOCKER_HOST
    run = subprocess.run([sys.executable, "-m", "lifecycle", "reconcile", "--channel", "latest", "--repo",
                          str(origin.agent), "--output", "json"], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "DOCKER_HOST": engine.base_url})
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["built"] == [SOLO] and report["commit"] == revert and report["unresolved"] == []
    added = set(client.tags(origin.repository)) - tags_before
    # besides the image, its records' OCI 1.1 fallback index (this registry has no referrers API)
    new_tags = {t for t in added if not t.startswith("sha256-")}
    assert len(new_tags) == 1 and next(iter(new_tags)).startswith(f"{SOLO}-") and revert[:7] in next(iter(new_tags))
    immutable = next(iter(new_tags))
    new = tag(client, origin, f"{SOLO}-latest")
    assert added - new_tags == {"sha256-" + new.partition(":")[2]}
    assert new == tag(client, origin, immutable) and new not in staged.values()
    assert tag(client, origin, SOLO) == new                       # bare tag follows latest
    labels = client.config(origin.repository, new).labels
    assert labels[origin.workspace(revert).policy.definition_label] == v1_definition
    assert labels[labels_mod.REVISION] == revert
    assert tag(client, origin, f"{SOLO}-staging") == staged[SOLO]  # staging is main's business
    for tagbase in (PARENT, CHILD, MULTISTAGE):
        assert tag(client, origin, f"{tagbase}-latest") == staged[tagbase]
    moved = {t["tag"]: t for t in report["tags"] if t["status"] == "moved"}
    assert set(moved) == {f"{SOLO}-latest", SOLO} and moved[SOLO]["new"] == new
    assert moved[f"{SOLO}-latest"]["previous"] == staged[SOLO]   # journaled, for the emergency path

    # a second reconcile finds everything in place: no build, no move
    again = reconcile(GitOps(origin.agent), client, quiet(), publish_missing=lambda *_: pytest.fail("rebuilt"))
    assert again.ok and not again.built and all(e.status == "unchanged" for e in again.entries)


def test_dry_run_changes_nothing_and_names_what_it_would_build(origin, client):
    c1 = origin.commit({SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", "solo v2")}, "v2")
    staged = origin.publish_synthetic(client, c1)
    rollout(GitOps(origin.agent), client, quiet())
    origin.revert_on_production(c1)
    tags_before = set(client.tags(origin.repository))
    report = reconcile(GitOps(origin.agent), client, quiet(), dry_run=True,
                       publish_missing=lambda *_: pytest.fail("dry run built"))
    assert [u.tagbase for u in report.unresolved] == [SOLO]
    assert set(client.tags(origin.repository)) == tags_before
    assert tag(client, origin, f"{SOLO}-latest") == staged[SOLO]


def test_without_a_builder_a_missing_definition_fails_after_the_rest_is_reconciled(origin, client, tmp_path):
    c1 = origin.commit({SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", "solo v2")}, "v2")
    staged = origin.publish_synthetic(client, c1)
    rollout(GitOps(origin.agent), client, quiet())
    origin.revert_on_production(c1)
    run = subprocess.run([sys.executable, "-m", "lifecycle", "reconcile", "--channel", "latest", "--repo",
                          str(origin.agent), "--dry-run"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"Would build, test and publish from production: {SOLO}" in run.stdout
    report = reconcile(GitOps(origin.agent), client, quiet(), journal_path=tmp_path / "j.json")
    assert not report.ok and [u.tagbase for u in report.unresolved] == [SOLO]
    assert tag(client, origin, f"{SOLO}-latest") == staged[SOLO]   # left where it was, reported
    assert tag(client, origin, f"{PARENT}-latest") == staged[PARENT]
    assert (tmp_path / "j.json").exists()


def test_images_that_left_the_catalogue_keep_their_tags_and_are_reported(origin, client):
    c1 = origin.commit({"README.md": "v1\n"}, "v1")
    staged = origin.publish_synthetic(client, c1)
    rollout(GitOps(origin.agent), client, quiet())
    catalog = origin.show("main", CATALOG)
    cut = catalog.index(f"  - tagBase: {SOLO}")
    after = catalog.find("  - tagBase:", cut + 1)
    c2 = origin.commit({CATALOG: catalog[:cut] + (catalog[after:] if after != -1 else ""), SOLO_DF: None},
                       "retire solo")
    assert SOLO not in origin.workspace(c2).definitions
    result = rollout(GitOps(origin.agent), client, quiet())
    assert result.plan.commit == c2 and SOLO not in result.plan.lkgs
    report = reconcile(GitOps(origin.agent), client, quiet())
    assert report.ok and report.departed == [SOLO]
    assert tag(client, origin, f"{SOLO}-latest") == staged[SOLO] == tag(client, origin, SOLO)
    assert {e.image for e in report.entries} == set(TAGBASES) - {SOLO}
