"""cleanup.yml run for real: the Report stage writes the plan artifact; nothing is deleted unless the Delete
stage (a deployment on `registry-cleanup`) is approved, and then exactly what the plan lists."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lifecycle.build import labels as labels_mod
from lifecycle.sample import LABEL_PREFIX, SOLO
from tests.fixtures.images import push_image
from tests.pipelines.model import Deployment

pytestmark = [pytest.mark.pipelines, pytest.mark.e2e]


def old_solo(fleet) -> tuple[str, str]:
    """An immutable SOLO tag built 200 days ago (past the sample's 90-day retention, not the newest)."""
    built = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=200)
    revision = "a1b2c3d" + "0" * 33
    tag = f"{SOLO}-{built:%Y%m%d%H%M%S}-{revision[:7]}"
    labels = {f"{LABEL_PREFIX}.definition": "sha256:" + "0" * 64, labels_mod.REVISION: revision,
              labels_mod.CREATED: built.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return tag, push_image(fleet.client, fleet.names.repository, tag, labels=labels, created=built)


def test_plan_then_delete_only_when_approved(pipeline_copy) -> None:
    fleet = pipeline_copy
    tag, digest = old_solo(fleet)
    before = fleet.snapshot()

    rejected = fleet.run("pipelines/cleanup.yml", "Schedule", approvals={"registry-cleanup": False})

    assert rejected.results == {"Plan": "Succeeded", "Delete": "Failed"}
    assert rejected.deployments == [Deployment("Delete", "registry-cleanup", False, "none")]
    assert rejected.failures() == ["job Delete: approval for environment registry-cleanup was rejected"]
    plan = json.loads((rejected.artifacts / "cleanup-plan" / "plan.json").read_text(encoding="utf-8"))
    assert [d["tags"] for d in plan["deletions"]] == [[tag]]
    assert [d["digest"] for d in plan["deletions"]] == [digest]
    assert (rejected.artifacts / "cleanup-plan" / "usage.json").is_file()
    assert [p.name for p in rejected.jobs["Plan"].summaries] == ["plan.md"]
    assert fleet.snapshot() == before, "a plan deletes nothing"

    approved = fleet.run("pipelines/cleanup.yml", "Schedule")

    approved.assert_succeeded()
    assert approved.deployments == [Deployment("Delete", "registry-cleanup", True, "none")]
    after = fleet.snapshot()
    assert after == {k: v for k, v in before.items() if k != f"{fleet.names.repository}:{tag}"}
    assert tag in approved.jobs["Delete"].summaries[0].read_text(encoding="utf-8")
