"""pr.yml run for real on a pull request that changes one Dockerfile: it and its descendants are built and
tested, and nothing is pushed (the registry is the same before and after)."""

from __future__ import annotations

import json

import pytest

from lifecycle.sample import CHILD, MULTISTAGE, PARENT
from tests.pipelines.test_pipeline_publish import leg_records

pytestmark = [pytest.mark.pipelines, pytest.mark.e2e]


def test_pull_request_builds_the_family_and_pushes_nothing(pipeline_copy) -> None:
    fleet = pipeline_copy
    parent_file = "src/busybox/1.0/amd64/Dockerfile"
    fleet.commit({parent_file: fleet.git("show", f"origin/main:{parent_file}").replace("parent v1", "parent pr")},
                 "parent: a change under review", branch="feature")
    merge = fleet.pull_request("feature", 7)
    before = fleet.snapshot()

    run = fleet.run("pipelines/pr.yml", "PullRequest", "refs/pull/7/merge", target="refs/heads/main")

    run.assert_succeeded()
    assert run.commit == merge
    level0 = json.loads(run.jobs["Plan"].outputs["matrix.level0"])
    assert {i for leg in level0.values() for i in leg["images"].split(",")} == {PARENT, CHILD, MULTISTAGE}
    built = leg_records(run.artifacts)
    assert set(built) == {PARENT, CHILD, MULTISTAGE}
    assert {r["status"] for r in built.values()} == {"built"}
    assert all(t["passed"] for record in built.values() for t in record["tests"])
    assert (run.artifacts / "plan" / "plan.json").is_file()
    assert fleet.snapshot() == before, "a pull request pushes nothing"
