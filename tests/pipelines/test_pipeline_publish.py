"""publish.yml run for real: a manual run publishes the fleet; a merge to main publishes what it changed and
the descendants, level by level, each level on the digests the earlier legs recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO, TAGBASES, VARIANT_A, VARIANT_B

pytestmark = [pytest.mark.pipelines, pytest.mark.e2e]

EXTRAS = ("busybox-1.0-extra1-amd64", "busybox-1.0-extra2-amd64")


def records(folder: Path) -> dict[str, dict]:
    """tagbase -> image-info record, from every JSON file under `folder`."""
    found = {}
    for file in sorted(folder.rglob("*.json")):
        for image in json.loads(file.read_text(encoding="utf-8"))["images"]:
            found[image["tagbase"]] = image
    return found


def leg_records(artifacts: Path) -> dict[str, dict]:
    """What the matrix legs recorded: their `image-info-<job id>` artifacts."""
    found = {}
    for folder in sorted(artifacts.glob("image-info-*")):
        found.update(records(folder))
    return found


def new_images(fleet, images: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    """Catalogue entries and Dockerfiles for new images: tagbase -> (its folder under src/busybox/1.0/,
    its FROM, its test)."""
    catalog = fleet.git("show", "origin/main:manifests/images.yml")
    files = {}
    for tagbase, (folder, base, test) in images.items():
        catalog += (f"  - tagBase: {tagbase}\n    dockerfile: src/busybox/1.0/{folder}/amd64\n"
                    f"    platform: {{os: linux, architecture: amd64}}\n    tests: [\"{test}\"]\n"
                    f"    owners: [platform-team]\n")
        files[f"src/busybox/1.0/{folder}/amd64/Dockerfile"] = f"FROM {base}\nRUN echo {tagbase} > /etc/{folder}\n"
    return {"manifests/images.yml": catalog, **files}


def extra_children(fleet) -> dict[str, str]:
    """Two new children of PARENT: with them the family is wide enough for `levels` to beat `chain`."""
    folders = {t: t.split("-")[2] for t in EXTRAS}
    return new_images(fleet, {t: (f, fleet.names.ref(PARENT), f"grep -q {t} /etc/{f}") for t, f in folders.items()})


def test_manual_run_publishes_every_image(pipeline_fleet) -> None:
    run = pipeline_fleet.manual
    run.assert_succeeded()
    published = records(run.artifacts / "image-info")
    assert sorted(published) == sorted(TAGBASES)
    for tagbase, record in published.items():
        assert record["status"] == "published"
        assert pipeline_fleet.digest(f"{tagbase}-staging") == record["digest"]
        assert pipeline_fleet.digest(record["immutable_tag"]) == record["digest"]
    assert "<html" in (run.artifacts / "status-page" / "status.html").read_text(encoding="utf-8").lower()


def test_merge_publishes_changed_images_level_by_level(pipeline_copy) -> None:
    fleet = pipeline_copy
    before = {t: fleet.digest(f"{t}-staging") for t in TAGBASES}
    parent_file = "src/busybox/1.0/amd64/Dockerfile"
    changed = fleet.git("show", f"origin/main:{parent_file}").replace("parent v1", "parent v2")
    fleet.commit({parent_file: changed, **extra_children(fleet)}, "parent v2 and two more children")

    run = fleet.run("pipelines/publish.yml", "IndividualCI")

    run.assert_succeeded()
    assert run.jobs["Plan"].outputs["matrix.mode"] == "levels"
    legs = {name: job.variables["images"].split(",") for name, job in run.jobs.items() if "." in name}
    by_level = {}
    for name, images in legs.items():
        by_level.setdefault(name.split(".")[0], set()).update(images)
    assert by_level == {"BuildLevel0": {PARENT}, "BuildLevel1": {CHILD, *EXTRAS}, "BuildLevel2": {MULTISTAGE}}
    assert len(legs) >= 3, "each level in legs of its own"
    assert all(run.results[f"BuildLevel{k}"] == "Skipped" for k in (3, 4, 5))

    # one image-info artifact per leg; a later level built FROM the digest an earlier leg recorded
    leg_artifacts = sorted(p for p in run.artifacts.iterdir() if p.name.startswith("image-info-"))
    assert len(leg_artifacts) == len(legs)
    built = leg_records(run.artifacts)
    parent_digest = built[PARENT]["digest"]
    assert parent_digest in built[CHILD]["bases"].values()
    assert all(parent_digest in built[t]["bases"].values() for t in EXTRAS)
    assert built[CHILD]["digest"] in built[MULTISTAGE]["bases"].values()

    final = records(run.artifacts / "image-info")
    rebuilt = {PARENT, CHILD, MULTISTAGE, *EXTRAS}
    for tagbase in rebuilt:
        digest = fleet.digest(f"{tagbase}-staging")
        assert digest == built[tagbase]["digest"] == final[tagbase]["digest"], tagbase
        assert digest != before.get(tagbase), tagbase
    for tagbase in (SOLO, VARIANT_A, VARIANT_B):
        assert fleet.digest(f"{tagbase}-staging") == before[tagbase], f"{tagbase} is unchanged"
        assert tagbase not in built
    assert "busybox-1.0-amd64" in run.summary_text()


def test_schedule_publishes_only_stale_images_and_a_failed_leg_blocks_only_its_descendants(pipeline_copy) -> None:
    fleet = pipeline_copy
    before = {t: fleet.digest(f"{t}-staging") for t in TAGBASES}
    solo_file = "src/busybox/1.0/solo/amd64/Dockerfile"
    broken = "busybox-1.0-broken-amd64"
    kids = ("busybox-1.0-broken-kid-amd64", "busybox-1.0-broken-kid2-amd64")
    solo_kid = "busybox-1.0-solo-kid-amd64"
    # broken's test fails; its two children and SOLO's new child are the next level, each in a leg of its own
    # (a chain of three beats two levels only as chains, so the plan is `levels`)
    added = new_images(fleet, {
        broken: ("broken", fleet.names.base, "test -f /etc/never-written"),
        kids[0]: ("broken-kid", fleet.names.ref(broken), "true"),
        kids[1]: ("broken-kid2", fleet.names.ref(broken), "true"),
        solo_kid: ("solo-kid", fleet.names.ref(SOLO), "grep -q solo-kid /etc/solo-kid"),
    })
    # committed straight to the branch the nightly run builds: no merge publish ran for it
    fleet.commit({solo_file: fleet.git("show", f"origin/main:{solo_file}").replace("solo v1", "solo nightly"),
                  **added}, "solo nightly, a child of it, and an image whose test fails with two children")

    run = fleet.run("pipelines/publish.yml", "Schedule")

    plan = run.jobs["Plan"].outputs
    assert plan["matrix.mode"] == "levels", plan
    # what the plan asked for, by the job each leg runs as (a leg that never ran shows as missing)
    leg_of = {image: f"BuildLevel{leg['level']}.{name}" for name, leg in json.loads(plan["matrix.matrix"]).items()
              for image in leg["images"].split(",")}
    assert set(leg_of) == {SOLO, solo_kid, broken, *kids}, "only the stale images"
    assert {leg_of[SOLO].split(".")[0], leg_of[broken].split(".")[0]} == {"BuildLevel0"}
    assert {leg_of[t].split(".")[0] for t in (solo_kid, *kids)} == {"BuildLevel1"}
    assert len({leg_of[t] for t in (solo_kid, *kids)}) == 3, "the later level's images in legs of their own"

    # the failed leg blocks its children in the later level; the independent image there builds
    results = {t: run.jobs[leg].result if leg in run.jobs else "did not run" for t, leg in leg_of.items()}
    assert results == {SOLO: "Succeeded", solo_kid: "Succeeded", broken: "Failed",
                       kids[0]: "Failed", kids[1]: "Failed"}, run.failures()
    built = leg_records(run.artifacts)
    assert built[broken]["status"] == "failed"
    for kid in kids:
        assert built[kid]["status"] == "blocked", built[kid]
        assert broken in built[kid]["reason"], built[kid]
        assert not built[kid]["digest"], "a blocked image is never built"
    assert built[SOLO]["digest"] in built[solo_kid]["bases"].values(), "built FROM the digest its parent's leg recorded"
    failures = "\n".join(run.failures())
    assert all(f"job {leg_of[kid]}, step 'Build and test" in failures for kid in kids), failures
    assert leg_of[solo_kid] not in failures

    # MoveStaging still runs and moves what passed; it reports the failed and blocked images, so it fails the run
    assert run.results["MoveStaging"] == "Failed", run.failures()
    assert run.results["Status"] == "Succeeded"
    final = records(run.artifacts / "image-info")
    for tagbase in (SOLO, solo_kid):
        digest = fleet.digest(f"{tagbase}-staging")
        assert digest == built[tagbase]["digest"] == final[tagbase]["digest"], tagbase
    assert fleet.digest(f"{SOLO}-staging") != before[SOLO]
    for tagbase in (broken, *kids):
        assert fleet.digest(f"{tagbase}-staging") is None, tagbase
    for tagbase in TAGBASES:
        if tagbase != SOLO:
            assert fleet.digest(f"{tagbase}-staging") == before[tagbase], tagbase
    assert any(broken in f for f in run.failures())
