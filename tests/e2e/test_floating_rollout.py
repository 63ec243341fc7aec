"""Floating tags through the weekly rollout, on the real registry and real git, dates driven by `now`.

A floating tag is created after its target's evaluation period, a move to a new target is held until the
target has been a month in production (production keeps its floating.yml entry, byte for byte), the next
rollout moves it, a revert on production moves it back and keeps it back, and inside the stability period
before the .NET version's end of life the target is frozen. Every date is a git commit date.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lifecycle.catalogue.floating import FLOATING_PATH
from lifecycle.production.gitops import GitOps
from lifecycle.production.reconcile import reconcile
from lifecycle.production.rollout import rollout
from lifecycle.sample import MULTISTAGE, SOLO
from tests.fixtures.git_clock import day
from tests.fixtures.gitops_origin import quiet

pytestmark = pytest.mark.e2e

FLOAT = "busybox-net9.0-amd64"
NEW = "busybox-1.1-solo-amd64"


def floating_yml(target: str) -> str:
    return ("# Floating tags: which image each one serves.\nfloatingTags:\n"
            f"  - tag: {FLOAT}    # helix queues of .NET 9\n    target: {target}\n    dotnet: \"9.0\"\n")

def move_to_new_image(origin, client) -> str:
    """Main adds busybox 1.1 (NEW) and points the floating tag at it; published to staging. The commit."""
    solo_df = origin.show("main", "src/busybox/1.0/solo/amd64/Dockerfile").replace("solo v1", "solo 1.1")
    catalog = origin.show("main", "manifests/images.yml") + (
        f"  - tagBase: {NEW}\n    dockerfile: src/busybox/1.1/solo/amd64\n"
        f"    platform: {{os: linux, architecture: amd64}}\n")
    commit = origin.commit({"src/busybox/1.1/solo/amd64/Dockerfile": solo_df, "manifests/images.yml": catalog,
                            FLOATING_PATH: floating_yml(NEW)}, "Floating tag moves to busybox 1.1")
    origin.publish_synthetic(client, commit)
    return commit



def policy_with(origin, eol: str) -> str:
    text = origin.show("main", "manifests/policy.yml")
    return text + f"floatingTags: {{evaluationDays: 30, stabilityDays: 180}}\ndotnetVersions:\n  \"9.0\": {{endOfLife: {eol}}}\n"


def test_floating_tag_evaluation_move_revert_and_stability(gitops_origin, registry, client, clock):
    clock(0)
    origin = gitops_origin(registry.host)
    ops = GitOps(origin.agent)
    repo = origin.repository

    def tag(name: str) -> str | None:
        return client.try_resolve(repo, name)

    # 1. a new floating tag on an image a month in production: created with the image's LKG
    now = clock(31)
    c1 = origin.commit({FLOATING_PATH: floating_yml(SOLO), "manifests/policy.yml": policy_with(origin, "2030-06-30")},
                       "Floating tag for .NET 9 helix")
    origin.publish_synthetic(client, c1)
    first = rollout(ops, client, quiet(), now=now)
    assert first.ok and not first.plan.floating_holds
    assert tag(FLOAT) == tag(f"{SOLO}-latest") is not None
    assert f"- {FLOAT} ({SOLO}): (none) -> {tag(FLOAT)}" in origin.message(origin.head("production"))

    # 2. main moves it to a brand-new image: held for the evaluation period, production keeps its entry
    now = clock(40)
    c2 = move_to_new_image(origin, client)
    held = rollout(ops, client, quiet(), now=now)
    hold = held.plan.floating_holds[FLOAT]
    assert hold.until == (day(40) + dt.timedelta(days=30)).date() and hold.serving == SOLO and hold.wanted == NEW
    production = origin.head("production")
    assert origin.show(production, FLOATING_PATH) == floating_yml(SOLO)   # production's bytes, not main's
    assert tag(FLOAT) == tag(f"{SOLO}-latest") and tag(f"{NEW}-latest") is not None
    message = origin.message(production)
    assert f"- {FLOAT}: stays on {SOLO}, not {NEW}: evaluation period: {NEW} not rolled out yet" in message
    assert f"(possible from {hold.until})" in message

    # 3. a month later, with main unchanged: the rollout merges main@C again with only floating.yml changed
    now = clock(71)
    moved = rollout(ops, client, quiet(), now=now)
    merge = origin.head("production")
    assert moved.pushed and not moved.plan.floating_holds and origin.parents(merge) == [production, c2]
    assert origin.show(merge, FLOATING_PATH) == floating_yml(NEW)
    assert origin.tree(merge, "src") == origin.tree(production, "src")
    assert tag(FLOAT) == tag(f"{NEW}-latest") != tag(f"{SOLO}-latest")
    again = rollout(ops, client, quiet(), now=now)        # a re-run is a no-op
    assert again.plan.already and origin.head("production") == merge and not [c for c in again.plan.moves()]

    # 4. FR reverts the move on production: reconcile moves the tag back, later rollouts keep it back
    clock(72)
    origin.revert_on_production(merge)
    reconcile(ops, client, quiet())
    assert tag(FLOAT) == tag(f"{SOLO}-latest")
    kept = rollout(ops, client, quiet(), now=clock(73))
    assert kept.plan.already and tag(FLOAT) == tag(f"{SOLO}-latest")
    origin.commit({"README.md": "unrelated\n"}, "Unrelated change on main")
    kept = rollout(ops, client, quiet(), now=clock(74))
    assert "reverted on production" in kept.plan.floating_holds[FLOAT].reason
    assert origin.show(origin.head("production"), FLOATING_PATH) == floating_yml(SOLO)
    assert tag(FLOAT) == tag(f"{SOLO}-latest")

    # 5. main picks another target, but .NET 9 is inside its stability period: frozen
    now = clock(80)
    c4 = origin.commit({FLOATING_PATH: floating_yml(MULTISTAGE),
                        "manifests/policy.yml": origin.show("main", "manifests/policy.yml").replace(
                            "2030-06-30", "2027-06-01")},
                       "Floating tag to the bundle image; .NET 9 ends in June")
    origin.publish_synthetic(client, c4)
    frozen = rollout(ops, client, quiet(), now=now)
    assert "stability period" in frozen.plan.floating_holds[FLOAT].reason
    assert tag(FLOAT) == tag(f"{SOLO}-latest")
