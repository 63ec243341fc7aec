"""Revert holds audited as a first responder meets them (issue 20): real registry, real git, dated commits,
each rollout run through the CLI with `--now` for its day, every tag read back with the registry client.

- a floating tag's reverted move stays reverted through later rollouts with main unchanged or moved on
  elsewhere, until main picks a new target or the revert is reverted;
- a no-change rollout ("already in production") still reports every hold in force, with its date;
- a revert of a merge that promoted an image and a floating tag holds both, a revert of the revert lifts both;
- an image held by a revert and then renamed on main: the new name is a new image, the old one's tags stay.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lifecycle.catalogue.catalog import CATALOG_PATH
from lifecycle.catalogue.floating import FLOATING_PATH
from lifecycle.production.gitops import GitOps
from lifecycle.production.rollout import rollout
from lifecycle.sample import MULTISTAGE, SOLO
from tests.e2e.test_floating_rollout import FLOAT, NEW, floating_yml, policy_with
from tests.fixtures.git_clock import day, iso
from tests.fixtures.gitops_origin import quiet

pytestmark = pytest.mark.e2e

SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"
REVERT_REASON = "reverted on production"


def cli(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "lifecycle", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "json" in args else {}


@dataclass
class Fleet:
    origin: object
    client: object

    def tag(self, name: str) -> str | None:
        return self.client.try_resolve(self.origin.repository, name)

    def rollout(self, n: int) -> dict:
        return cli("rollout", "--repo", str(self.origin.agent), "--now", iso(day(n)), "-o", "json")

    def rollback(self, sha: str) -> str:
        cli("rollback", "--repo", str(self.origin.agent), "--commit", sha, "--push")
        cli("reconcile", "--channel", "latest", "--repo", str(self.origin.agent), "-o", "json")
        return self.origin.head("production")

    def status(self, n: int, page: Path) -> dict:
        """The status JSON at day n (and its HTML page written to `page`)."""
        return cli("status", "--repo", str(self.origin.agent), "--now", iso(day(n)), "--no-cleanup",
                   "--html", str(page), "-o", "json")

    def floating_holds(self, data: dict) -> dict[str, dict]:
        return {h["tag"]: h for h in data["floating_holds"]}

    @staticmethod
    def as_rollout_says(status: dict, rollout: dict) -> list[dict]:
        """status's floating holds in the rollout report's keys (status adds its next step in words)."""
        keys = {k for h in rollout["floating_holds"] for k in h}
        return [{k: v for k, v in h.items() if k in keys} for h in status["floating_holds"]]


@pytest.fixture
def fleet(gitops_origin, registry, client, clock) -> Fleet:
    """Day 31: the floating tag created on busybox-1.0, .NET 9 evaluated for 30 days."""
    clock(0)
    origin = gitops_origin(registry.host)
    clock(31)
    c1 = origin.commit({FLOATING_PATH: floating_yml(SOLO), "manifests/policy.yml": policy_with(origin, "2030-06-30")},
                       "Floating tag for .NET 9 helix")
    origin.publish_synthetic(client, c1)
    assert rollout(GitOps(origin.agent), client, quiet(), now=day(31)).ok
    return Fleet(origin, client)


def new_image(origin) -> dict[str, str]:
    solo_df = origin.show("main", SOLO_DF).replace("solo v1", "solo 1.1")
    catalog = origin.show("main", CATALOG_PATH) + (
        f"  - tagBase: {NEW}\n    dockerfile: src/busybox/1.1/solo/amd64\n"
        f"    platform: {{os: linux, architecture: amd64}}\n")
    return {"src/busybox/1.1/solo/amd64/Dockerfile": solo_df, CATALOG_PATH: catalog, FLOATING_PATH: floating_yml(NEW)}


def moved_and_reverted(fleet: Fleet, clock) -> tuple[str, str]:
    """Days 40-72 of the issue: busybox-1.1 added and chosen (held in evaluation), moved on day 71, the move
    reverted on day 72. Returns (the move, its revert)."""
    origin = fleet.origin
    clock(40)
    c2 = origin.commit(new_image(origin), "Floating tag moves to busybox 1.1")
    origin.publish_synthetic(fleet.client, c2)
    held = fleet.floating_holds(fleet.rollout(40))[FLOAT]
    assert held["reason"].startswith("evaluation period") and held["until"] == "2027-03-12"

    # day 55, main unchanged: nothing to merge, and the report still lists the hold with its date
    clock(55)
    production = origin.head("production")
    quiet_day = fleet.rollout(55)
    assert quiet_day["already"] and quiet_day["merge"] is None and origin.head("production") == production
    assert [(h["tag"], h["wanted"], h["serving"], h["until"]) for h in quiet_day["floating_holds"]] == \
        [(FLOAT, NEW, SOLO, "2027-03-12")]
    assert {e["tag"]: e["status"] for e in quiet_day["journal"]["tags"]}[FLOAT] == "unchanged"
    assert fleet.tag(FLOAT) == fleet.tag(f"{SOLO}-latest")
    page = origin.root / "status.html"
    status = fleet.status(55, page)
    assert fleet.as_rollout_says(status, quiet_day) == quiet_day["floating_holds"]
    assert [h["next_step"] for h in status["floating_holds"]] == [
        f"waiting: evaluation period until 2027-03-12; then the rollout moves it to {NEW}"]
    assert "Floating tags held" in page.read_text() and "2027-03-12" in page.read_text()

    clock(71)
    moved = fleet.rollout(71)
    assert moved["pushed"] and moved["floating_holds"] == []
    assert fleet.tag(FLOAT) == fleet.tag(f"{NEW}-latest") != fleet.tag(f"{SOLO}-latest")
    move = origin.head("production")

    clock(72)
    revert = fleet.rollback(move)
    assert fleet.tag(FLOAT) == fleet.tag(f"{SOLO}-latest")
    assert origin.show(revert, FLOATING_PATH) == floating_yml(SOLO)
    return move, revert


def assert_revert_held(fleet: Fleet, data: dict) -> None:
    hold = fleet.floating_holds(data)[FLOAT]
    assert REVERT_REASON in hold["reason"] and (hold["wanted"], hold["serving"], hold["until"]) == (NEW, SOLO, None)
    assert origin_floating(fleet) == floating_yml(SOLO)      # production's bytes
    assert fleet.tag(FLOAT) == fleet.tag(f"{SOLO}-latest") != fleet.tag(f"{NEW}-latest")


def origin_floating(fleet: Fleet) -> str:
    return fleet.origin.show(fleet.origin.head("production"), FLOATING_PATH)


def test_a_reverted_floating_tag_holds_through_rollouts_until_main_picks_a_new_target(fleet, clock):
    origin = fleet.origin
    _, revert = moved_and_reverted(fleet, clock)

    clock(80)                                                  # main unchanged: reported, nothing merged
    data = fleet.rollout(80)
    assert data["already"] and origin.head("production") == revert
    assert_revert_held(fleet, data)
    assert fleet.as_rollout_says(fleet.status(80, origin.root / "status.html"), data) == data["floating_holds"]

    clock(81)                                                  # an unrelated change on main, rolled out
    origin.commit({"README.md": "unrelated\n"}, "Unrelated change on main")
    data = fleet.rollout(81)
    assert data["pushed"] and origin.head("production") == data["merge"]
    assert_revert_held(fleet, data)
    assert f"- {FLOAT}: stays on {SOLO}, not {NEW}: target {NEW} was reverted" in data["message"]
    after_81 = origin.head("production")

    for n in (90, 97, 104):                                    # three more rollouts, main unchanged since day 81
        clock(n)
        data = fleet.rollout(n)
        assert data["already"] and origin.head("production") == after_81, n
        assert_revert_held(fleet, data)

    clock(105)                                                 # main picks another target: the hold is lifted
    origin.commit({FLOATING_PATH: floating_yml(MULTISTAGE)}, "Floating tag to the bundle image")
    data = fleet.rollout(105)
    assert data["pushed"] and data["floating_holds"] == []
    assert origin_floating(fleet) == floating_yml(MULTISTAGE)
    assert fleet.tag(FLOAT) == fleet.tag(f"{MULTISTAGE}-latest") != fleet.tag(f"{SOLO}-latest")


def test_reverting_the_revert_lifts_the_floating_hold(fleet, clock):
    origin = fleet.origin
    _, revert = moved_and_reverted(fleet, clock)
    clock(81)
    origin.commit({"README.md": "unrelated\n"}, "Unrelated change on main")
    assert_revert_held(fleet, fleet.rollout(81))

    clock(85)
    fleet.rollback(revert)
    assert origin_floating(fleet) == floating_yml(NEW)
    assert fleet.tag(FLOAT) == fleet.tag(f"{NEW}-latest") != fleet.tag(f"{SOLO}-latest")
    for n in (86, 93):
        clock(n)
        data = fleet.rollout(n)
        assert data["already"] and data["floating_holds"] == [] and data["holds"] == []
        assert fleet.tag(FLOAT) == fleet.tag(f"{NEW}-latest")


def test_a_revert_of_a_merge_that_moved_an_image_and_a_floating_tag_holds_both_until_reverted(fleet, clock):
    origin, client = fleet.origin, fleet.client
    v1 = fleet.tag(f"{SOLO}-latest")
    clock(40)
    c2 = origin.commit({SOLO_DF: origin.show("main", SOLO_DF).replace("solo v1", "solo v2"),
                        FLOATING_PATH: floating_yml(MULTISTAGE)}, "solo v2; floating tag to the bundle image")
    v2 = origin.publish_synthetic(client, c2)[SOLO]
    data = fleet.rollout(40)
    assert data["holds"] == [] and data["floating_holds"] == []
    assert fleet.tag(f"{SOLO}-latest") == v2 and fleet.tag(FLOAT) == fleet.tag(f"{MULTISTAGE}-latest")
    move = origin.head("production")

    clock(41)
    revert = fleet.rollback(move)
    assert fleet.tag(f"{SOLO}-latest") == v1 == fleet.tag(FLOAT)
    clock(42)
    origin.commit({"README.md": "unrelated\n"}, "Unrelated change on main")
    for n in (42, 49, 56):                                     # a merge, then two rollouts with nothing new
        clock(n)
        data = fleet.rollout(n)
        assert [h["tagbase"] for h in data["holds"]] == [SOLO] and REVERT_REASON in data["holds"][0]["reason"]
        assert REVERT_REASON in fleet.floating_holds(data)[FLOAT]["reason"]
        assert fleet.tag(f"{SOLO}-latest") == v1 == fleet.tag(FLOAT), n
        assert fleet.tag(f"{SOLO}-staging") == v2
    assert origin.show(origin.head("production"), SOLO_DF) == origin.show(origin.initial, SOLO_DF)

    clock(57)
    fleet.rollback(revert)
    assert fleet.tag(f"{SOLO}-latest") == v2 and fleet.tag(FLOAT) == fleet.tag(f"{MULTISTAGE}-latest")
    clock(58)
    data = fleet.rollout(58)
    assert data["holds"] == [] and data["floating_holds"] == []
    assert fleet.tag(f"{SOLO}-latest") == v2 and fleet.tag(FLOAT) == fleet.tag(f"{MULTISTAGE}-latest")


def test_an_image_held_by_a_revert_then_renamed_on_main_is_a_new_image(fleet, clock):
    origin, client = fleet.origin, fleet.client
    renamed = "busybox-1.0-solo-renamed-amd64"
    v1 = fleet.tag(f"{SOLO}-latest")
    clock(40)
    c2 = origin.commit({SOLO_DF: origin.show("main", SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    v2 = origin.publish_synthetic(client, c2)[SOLO]
    fleet.rollout(40)
    clock(41)
    fleet.rollback(origin.head("production"))
    clock(42)
    data = fleet.rollout(42)
    assert [h["tagbase"] for h in data["holds"]] == [SOLO] and fleet.tag(f"{SOLO}-latest") == v1

    # main renames the image (same folder, same definition): the old name leaves, the new one is promoted
    clock(43)
    c3 = origin.commit({CATALOG_PATH: origin.show("main", CATALOG_PATH).replace(f"tagBase: {SOLO}\n",
                                                                                 f"tagBase: {renamed}\n"),
                        FLOATING_PATH: floating_yml(MULTISTAGE)}, "rename solo")
    published = origin.publish_synthetic(client, c3)
    assert set(published) == {renamed}
    data = fleet.rollout(43)
    assert data["holds"] == [] and data["floating_holds"] == []
    assert fleet.tag(f"{renamed}-latest") == published[renamed] != v1
    assert fleet.tag(FLOAT) == fleet.tag(f"{MULTISTAGE}-latest")
    assert fleet.tag(f"{SOLO}-latest") == v1 != v2           # the departed name stays where the revert put it
    report = cli("reconcile", "--channel", "latest", "--repo", str(origin.agent), "-o", "json")
    assert report["departed"] == [SOLO]
