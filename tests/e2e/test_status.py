"""`lifecycle status` from a real cycle's state (tests/fixtures/status_state.py: publish, rollouts, a revert
on production, a held rollout, a newer publish not rolled out, consumers), on the real registry and git.
The HTML page is opened in a real headless Chromium (tests/e2e/test_status_page.py)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from lifecycle.cleanup.rules import load_usage
from lifecycle.registry.pool import RegistryPool
from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO, TAGBASES
from lifecycle.status.collect import collect_status
from tests.fixtures.status_state import LINK, SYNTHETIC_TIME, fetched

pytestmark = pytest.mark.e2e


@pytest.fixture
def state(status_state):
    return status_state


def test_status_from_a_real_cycle(origin, client, state):
    v1, v2, v3, v4 = state["v1"], state["v2"], state["v3"], state["v4"]
    now = SYNTHETIC_TIME + dt.timedelta(days=1)  # within maxAgeDays of the synthetic builds
    with RegistryPool() as pool:
        fleet = collect_status(fetched(origin), pool, usage=load_usage(state["usage"]), now=now,
                               link_template=LINK)
    images = {i.tagbase: i for i in fleet.images}
    assert [i.tagbase for i in fleet.images][0] == PARENT and set(images) == set(TAGBASES)

    solo = images[SOLO]
    assert solo.state == "held"
    assert solo.hold and solo.hold.startswith("reverted on production since it was last rolled out")
    assert solo.latest.digest == v1[SOLO] == client.try_resolve(origin.repository, f"{SOLO}-latest")
    assert solo.staging.digest == v2[SOLO] and not solo.in_sync
    assert solo.lkg_digest == v1[SOLO]  # held: the next rollout keeps production's definition
    assert solo.consumers == {"bare": 1, "latest": 1}
    assert {(c.file, c.line, c.url) for c in solo.references} == {
        ("eng/ci.yml", 12, "https://dev.example/product/blob/main/eng/ci.yml#L12"),
        ("Dockerfile", 1, "https://dev.example/tools%20%3Cb%3E/blob/main/Dockerfile#L1")}
    assert solo.labels["io.lifecycle.definition"] == solo.production_definition

    for tagbase in (PARENT, CHILD, MULTISTAGE):  # main moved on, published, not rolled out yet
        image = images[tagbase]
        # synthetic images record no base: stale says so (the state outranks "pending")
        assert image.state == "stale" and not image.in_sync and image.hold is None
        assert image.staging.digest == v4[tagbase] and image.latest.digest == v3[tagbase]
        assert image.lkg_digest == v4[tagbase]
        assert image.latest.reasons == ["no base digest recorded in its labels"]
    assert images[CHILD].consumers == {"pinned": 1}
    changes = images[PARENT].changes  # what the next rollout brings -latest's consumers
    assert changes is not None and [c.sha for c in changes.commits] == [state["git"]["c4"]]
    assert (changes.latest, changes.staging) == (v3[PARENT], v4[PARENT]) and changes.packages is None
    assert images[SOLO].changes is not None and [c.sha for c in images[SOLO].changes.commits] == [state["git"]["c2"]]
    assert {t["tag"] for t in images[PARENT].tags} >= {PARENT, f"{PARENT}-latest", f"{PARENT}-staging"}

    sha = state["git"]
    assert [(r.kind, r.sha) for r in fleet.rollouts][:2] == [("held", sha["merge3"]), ("reverted", sha["revert"])]
    assert [r.kind for r in fleet.rollouts] == ["held", "reverted", "promoted", "promoted"]
    assert fleet.rollouts[0].held == [SOLO] and fleet.rollouts[0].promoted == [PARENT, CHILD, MULTISTAGE]
    assert fleet.rollouts[0].main_commit == sha["c3"]
    assert fleet.rollouts[2].sha == sha["merge2"] and fleet.rollouts[2].promoted == [SOLO]
    assert fleet.rollouts[2].reverts is None and fleet.rollouts[1].reverts == sha["merge2"]
    assert fleet.counts() == {"held": 1, "eol": 0, "unpublished": 0, "stale": len(TAGBASES) - 1, "pending": 0,
                            "retiring": 0, "current": 0}

    # request budget: the tag list once, each tag one HEAD, each distinct digest at most one manifest and
    # one config blob, whatever stale, LKG and cleanup each asked for
    tags = client.tags(origin.repository)
    digests = {client.try_resolve(origin.repository, t) for t in tags}
    assert fleet.requests["HEAD"] == len(tags)
    assert fleet.requests["GET"] <= 1 + 2 * len(digests)


def test_cleanup_candidates_and_usage(origin, client, state):
    later = SYNTHETIC_TIME + dt.timedelta(days=400)
    with RegistryPool() as pool:
        fleet = collect_status(fetched(origin), pool, usage=load_usage(state["usage"]), now=later)
    images = {i.tagbase: i for i in fleet.images}
    solo = images[SOLO]
    # solo has two immutable tags (v1, v2) and keepLast keeps the newest: v1 is the candidate, and
    # the consumers' usage file (SOLO-latest resolved to v1's digest) keeps it
    v1_tag = next(t["tag"] for t in solo.tags if t["kind"] == "immutable" and t["digest"] == state["v1"][SOLO])
    assert solo.cleanup_candidates == [v1_tag] and solo.cleanup_deletes == []
    assert solo.staging.age_days == 399  # built a few minutes into SYNTHETIC_TIME
    assert solo.state == "held"  # holds win over age
    assert "built" in " ".join(solo.stale_reasons)


def test_cli_outputs(origin, client, state, tmp_path):
    page, summary = tmp_path / "page" / "status.html", tmp_path / "summary.md"
    done = subprocess.run([sys.executable, "-m", "lifecycle", "status", "--repo", str(origin.agent), "-o", "json",
                           "--usage", str(state["usage"]), "--html", str(page), "--summary", str(summary)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {i["tagbase"]: i["state"] for i in data["images"]} == {
        **{t: "stale" for t in TAGBASES}, SOLO: "held"}
    assert data["totals"]["held"] == 1 and data["production"] == origin.head("production")
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    text = summary.read_text(encoding="utf-8")
    assert f"| {SOLO} | held |" in text and "status.html" in text

    table = subprocess.run([sys.executable, "-m", "lifecycle", "status", "--repo", str(origin.agent)],
                           capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    assert any(line.startswith(SOLO) and " held " in line for line in table.stdout.splitlines())
    markdown = subprocess.run([sys.executable, "-m", "lifecycle", "status", "--repo", str(origin.agent), "-o",
                               "markdown", "--no-cleanup"], capture_output=True, text=True, timeout=300)
    assert markdown.returncode == 0, markdown.stderr
    rows = [line for line in markdown.stdout.splitlines() if line.startswith(f"| {SOLO} | held |")]
    assert len(rows) == 1 and rows[0].rstrip().endswith("| not checked |")

    bad = subprocess.run([sys.executable, "-m", "lifecycle", "status", "--repo", str(origin.agent),
                          "--link-template", "https://x/{repo}/{file}"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "{repo}" not in bad.stdout and "unknown field" in bad.stderr


def test_without_cleanup_the_requests_are_about_stales(origin, client, state):
    ops = fetched(origin)
    with RegistryPool() as pool:
        fleet = collect_status(ops, pool, now=SYNTHETIC_TIME + dt.timedelta(days=1), cleanup=False)
    with RegistryPool() as pool:
        full = collect_status(ops, pool, now=SYNTHETIC_TIME + dt.timedelta(days=1))
    # the same answers, but no cleanup plan and no digest for tags nobody read
    assert [(i.tagbase, i.state, i.hold, i.lkg_digest, i.latest.digest, i.staging.digest) for i in fleet.images] == [
        (i.tagbase, i.state, i.hold, i.lkg_digest, i.latest.digest, i.staging.digest) for i in full.images]
    assert not fleet.cleanup_checked and all(not i.cleanup_candidates for i in fleet.images)
    solo = {t["tag"]: t for t in next(i for i in fleet.images if i.tagbase == SOLO).tags}
    assert solo[f"{SOLO}-latest"]["digest"] == state["v1"][SOLO] and solo[f"{SOLO}-latest"]["cleanup"] is None
    assert {t["kind"] for t in solo.values()} == {"floating", "immutable"}
    # what stale on both channels costs (a manifest and a config per channel tag), plus the LKG lookups
    # (one HEAD per immutable tag walked: two for the held image, whose LKG is its older build); no HEAD
    # per tag
    tags = client.tags(origin.repository)
    assert fleet.requests.get("HEAD", 0) == len(fleet.images) + 1 < len(tags) == full.requests["HEAD"]
    assert sum(fleet.requests.values()) <= 6 * len(fleet.images)


def test_diff_lists_what_the_next_rollout_changes(origin, client, state, tmp_path):
    """`status --diff IMAGE`: -latest (built from c3) against -staging (c4): the commit touching the parent's
    files; a held image's -staging is not what the rollout promotes, but the diff still says what differs."""
    sha, v3, v4 = state["git"], state["v3"], state["v4"]
    run = [sys.executable, "-m", "lifecycle", "status", "--repo", str(origin.agent)]
    done = subprocess.run([*run, "-o", "json", "--diff", CHILD], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["latest"], data["staging"]) == (v3[CHILD], v4[CHILD]) and not data["same"]
    assert (data["latest_revision"], data["staging_revision"]) == (sha["c3"], sha["c4"])
    assert [c["sha"] for c in data["commits"]] == [sha["c4"]]  # parent v3: CHILD builds on PARENT
    assert data["commits"][0]["subject"] == "parent v3"
    assert data["bases"] == [] and data["packages"] is None  # synthetic images record no base
    # --diff reads the package lists inside both images: the synthetic ones have no shell to ask
    assert data["packages_note"] == "not read: -latest has no known package manager (no shell to read /etc/os-release)"

    table = subprocess.run([*run, "--diff", PARENT], capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    assert sha["c4"][:10] in table.stdout and "parent v3" in table.stdout and "OS packages: not read" in table.stdout

    bad = subprocess.run([*run, "--diff", "no-such-image"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "'no-such-image'" in bad.stderr and "manifests/images.yml" in bad.stderr
