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


def extra_children(fleet) -> dict[str, str]:
    """Two new children of PARENT: with them the family is wide enough for `levels` to beat `chain`."""
    catalog = fleet.git("show", "origin/main:manifests/images.yml")
    files = {}
    for tagbase in EXTRAS:
        folder = "src/" + tagbase.replace("-amd64", "").replace("-", "/") + "/amd64"
        catalog += (f"  - tagBase: {tagbase}\n    dockerfile: {folder}\n"
                    f"    platform: {{os: linux, architecture: amd64}}\n"
                    f"    tests: [\"grep -q {tagbase} /etc/extra\"]\n    owners: [platform-team]\n")
        files[f"{folder}/Dockerfile"] = f"FROM {fleet.names.ref(PARENT)}\nRUN echo {tagbase} > /etc/extra\n"
    return {"manifests/images.yml": catalog, **files}


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


def test_schedule_publishes_only_stale_images_and_a_failed_leg_blocks_its_own(pipeline_copy) -> None:
    fleet = pipeline_copy
    before = {t: fleet.digest(f"{t}-staging") for t in TAGBASES}
    solo_file = "src/busybox/1.0/solo/amd64/Dockerfile"
    broken, kid = "busybox-1.0-broken-amd64", "busybox-1.0-broken-kid-amd64"
    catalog = fleet.git("show", "origin/main:manifests/images.yml") + "".join(
        f"  - tagBase: {t}\n    dockerfile: src/busybox/1.0/{t.split('-', 2)[2].removesuffix('-amd64')}/amd64\n"
        f"    platform: {{os: linux, architecture: amd64}}\n    tests: [\"{test}\"]\n    owners: [platform-team]\n"
        for t, test in ((broken, "test -f /etc/never-written"), (kid, "true")))
    # committed straight to the branch the nightly run builds: no merge publish ran for it
    fleet.commit({
        solo_file: fleet.git("show", f"origin/main:{solo_file}").replace("solo v1", "solo nightly"),
        "manifests/images.yml": catalog,
        "src/busybox/1.0/broken/amd64/Dockerfile": f"FROM {fleet.names.base}\nRUN echo broken > /etc/broken\n",
        "src/busybox/1.0/broken-kid/amd64/Dockerfile": f"FROM {fleet.names.ref(broken)}\nRUN true\n",
    }, "solo nightly, and an image whose test fails")

    run = fleet.run("pipelines/publish.yml", "Schedule")

    legs = {name: job for name, job in run.jobs.items() if "." in name}
    planned = {i for job in legs.values() for i in job.variables["images"].split(",")}
    assert planned == {SOLO, broken, kid}, "only the stale images"
    failed = [name for name, job in legs.items() if job.result == "Failed"]
    assert failed and all(broken in legs[n].variables["images"] for n in failed)
    # MoveStaging still runs and moves what passed; it reports the failed image, so it fails the run
    assert run.results["MoveStaging"] == "Failed", run.failures()
    assert run.results["Status"] == "Succeeded"
    moved = fleet.digest(f"{SOLO}-staging")
    assert moved != before[SOLO]
    assert moved == records(run.artifacts / "image-info")[SOLO]["digest"]
    assert fleet.digest(f"{broken}-staging") is None and fleet.digest(f"{kid}-staging") is None
    for tagbase in TAGBASES:
        if tagbase != SOLO:
            assert fleet.digest(f"{tagbase}-staging") == before[tagbase], tagbase
    assert any(broken in f for f in run.failures())
