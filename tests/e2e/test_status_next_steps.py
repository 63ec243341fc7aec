"""The next step in words for a floating tag in its evaluation period (and the image it waits to serve), and
for an image removed on main that production still serves, on the real registry and real git; the next
rollout then does what the retiring image's step said. Dates are git commit dates (tests/fixtures/git_clock.py).
"""

from __future__ import annotations

import datetime as dt

import pytest

from lifecycle.catalogue.floating import FLOATING_PATH
from lifecycle.production.gitops import GitOps
from lifecycle.production.rollout import rollout
from lifecycle.registry.pool import RegistryPool
from lifecycle.sample import MULTISTAGE, SOLO
from lifecycle.status.collect import collect_status
from lifecycle.status.render_html import render_page
from tests.e2e.test_floating_rollout import FLOAT, NEW, floating_yml, move_to_new_image, policy_with
from tests.fixtures.git_clock import day
from tests.fixtures.gitops_origin import quiet

pytestmark = pytest.mark.e2e

BUNDLE_DF = "src/busybox/1.0/bundle/amd64/Dockerfile"


def without_image(catalog: str, tagbase: str) -> str:
    """images.yml without `tagbase`'s entry (its lines up to the next entry)."""
    out, skipping = [], False
    for line in catalog.splitlines(keepends=True):
        if line.startswith("  - tagBase: "):
            skipping = line.strip() == f"- tagBase: {tagbase}"
        if not skipping:
            out.append(line)
    return "".join(out)


def status(origin, now: dt.datetime):
    ops = GitOps(origin.agent)
    ops.fetch()
    with RegistryPool() as pool:
        fleet = collect_status(ops, pool, now=now, cleanup=False)
    return fleet, {i.tagbase: i for i in fleet.images}


def test_evaluation_wait_and_retiring_image(gitops_origin, registry, client, clock):
    clock(0)
    origin = gitops_origin(registry.host)
    ops = GitOps(origin.agent)
    repo = origin.repository
    now = clock(31)
    c1 = origin.commit({FLOATING_PATH: floating_yml(SOLO), "manifests/policy.yml": policy_with(origin, "2030-06-30")},
                       "Floating tag for .NET 9 helix")
    origin.publish_synthetic(client, c1)
    assert rollout(ops, client, quiet(), now=now).ok

    # main moves the floating tag to a new image: held for the evaluation period, the image itself promoted
    now = clock(40)
    move_to_new_image(origin, client)
    held = rollout(ops, client, quiet(), now=now)
    until = held.plan.floating_holds[FLOAT].until
    assert until == (day(40) + dt.timedelta(days=30)).date()
    bundle_latest = client.resolve(repo, f"{MULTISTAGE}-latest")

    # then main removes the bundle image: production still serves it until the next rollout
    clock(42)
    origin.commit({"manifests/images.yml": without_image(origin.show("main", "manifests/images.yml"), MULTISTAGE),
                   BUNDLE_DF: None}, "Retire the bundle image")

    fleet, images = status(origin, day(43))
    hold = next(h for h in fleet.floating_holds if h.tag == FLOAT)
    assert hold.next_step == f"waiting: evaluation period until {until}; then the rollout moves it to {NEW}"
    assert images[NEW].next_step.endswith(f"waiting: evaluation period until {until} ({FLOAT} then moves to it)")
    assert "waiting" not in images[SOLO].next_step  # the tag's current target waits for nothing
    bundle = images[MULTISTAGE]
    assert bundle.state == "retiring" and bundle.next_step == "retiring: removed on main; the next rollout drops it"
    assert bundle.latest.digest == bundle_latest and bundle.main_definition is None and bundle.in_production
    assert fleet.counts()["retiring"] == 1 and fleet.to_dict()["totals"]["retiring"] == 1
    page = render_page(fleet)
    assert f'data-image="{MULTISTAGE}"' in page and "retiring: removed on main; the next rollout drops it" in page
    assert f"waiting: evaluation period until {until}; then the rollout moves it to {NEW}" in page

    # what the step said happens: the next rollout takes it out of production's catalogue
    assert rollout(ops, client, quiet(), now=clock(44)).ok
    assert MULTISTAGE not in {i.tagbase for i in origin.workspace("production").catalog.images}
    _, after = status(origin, day(45))
    assert MULTISTAGE not in after
