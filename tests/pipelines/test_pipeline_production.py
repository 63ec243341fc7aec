"""rollout.yml and production.yml run for real: the weekly rollout merges main into production and moves
`-latest` by digest (a second run changes nothing); a revert pushed to production, reconciled by
production.yml, puts `-latest` back on the earlier digest."""

from __future__ import annotations

import json

import pytest

from lifecycle.sample import SOLO, TAGBASES
from tests.pipelines.model import Deployment
from tests.pipelines.test_pipeline_publish import records

pytestmark = [pytest.mark.pipelines, pytest.mark.e2e]


def test_rollout_promotes_main_and_moves_latest_then_is_a_noop(pipeline_fleet, pipeline_copy) -> None:
    fleet = pipeline_copy
    production = fleet.head("production")
    main = fleet.commit({"README.md": "# Sample GitOps repository, documented\n"}, "docs: a word more")
    published = records(pipeline_fleet.manual.artifacts / "image-info")

    run = fleet.run("pipelines/rollout.yml", "Schedule")

    run.assert_succeeded()
    assert run.deployments == [Deployment("Rollout", "production", True, "exclusive")]
    head = fleet.head("production")
    assert head != production
    assert fleet.is_ancestor(main, head) and fleet.is_ancestor(production, head), "main merged into production"
    for tagbase in TAGBASES:
        assert fleet.digest(f"{tagbase}-latest") == published[tagbase]["digest"], tagbase
    summary = run.jobs["Rollout"].summaries
    assert [p.name for p in summary] == ["rollout.md", "status.md"]
    assert SOLO in summary[0].read_text(encoding="utf-8")
    journal = json.loads((run.artifacts / "rollout-journal" / "journal.json").read_text(encoding="utf-8"))
    assert journal, "the journal artifact holds the rollout's record"

    registry = fleet.snapshot()
    again = fleet.run("pipelines/rollout.yml", "Schedule")
    again.assert_succeeded()
    assert fleet.head("production") == head
    assert fleet.snapshot() == registry


def test_revert_on_production_puts_latest_back(pipeline_copy) -> None:
    fleet = pipeline_copy
    fleet.run("pipelines/rollout.yml", "Schedule").assert_succeeded()
    earlier = fleet.digest(f"{SOLO}-latest")
    solo_file = "src/busybox/1.0/solo/amd64/Dockerfile"
    fleet.commit({solo_file: fleet.git("show", f"origin/main:{solo_file}").replace("solo v1", "solo v2")}, "solo v2")
    fleet.run("pipelines/publish.yml", "IndividualCI").assert_succeeded()
    fleet.run("pipelines/rollout.yml", "Schedule").assert_succeeded()
    newer = fleet.digest(f"{SOLO}-latest")
    assert newer != earlier
    others = {t: fleet.digest(f"{t}-latest") for t in TAGBASES if t != SOLO}

    revert = fleet.revert_on_production(fleet.head("production"))
    run = fleet.run("pipelines/production.yml", "BatchedCI", "production")

    run.assert_succeeded()
    assert run.commit == revert
    assert fleet.digest(f"{SOLO}-latest") == earlier
    assert {t: fleet.digest(f"{t}-latest") for t in TAGBASES if t != SOLO} == others
    assert (run.artifacts / "reconcile-journal" / "journal.json").is_file()
    assert SOLO in run.summary_text()
