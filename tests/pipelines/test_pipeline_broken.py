"""A deliberately broken copy of each pipeline, committed and run: the harness fails it, naming the job, the
step and the reason (what would otherwise break on the first real run in Azure)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

pytestmark = [pytest.mark.pipelines, pytest.mark.e2e]


@dataclass(frozen=True)
class Break:
    pipeline: str
    old: str
    new: str
    reason: str                    # Build.Reason of the run
    branch: str                    # where the broken copy is committed
    failure: str                   # the start of the failure the run reports
    detail: str                    # part of its reason


BREAKS = {
    # a renamed output variable: the build job's matrix reads a variable no step set
    "pr-renamed-output": Break(
        "pipelines/pr.yml", "    name: matrix\n", "    name: levels\n", "PullRequest", "feature",
        "job BuildLevel0: strategy.matrix $[ dependencies.Plan.outputs['matrix.level0'] ] evaluated to ''",
        "not a JSON object of legs"),
    # a missing artifact: the Delete stage downloads a name the Report stage never published
    "cleanup-missing-artifact": Break(
        "pipelines/cleanup.yml", "      artifact: cleanup-plan\n      displayName: Publish the plan",
        "      artifact: cleanup-plans\n      displayName: Publish the plan", "Schedule", "main",
        "job Delete, step 'Download the reviewed plan': Artifact cleanup-plan was not found", "cleanup-plans"),
    # a bash error in the rollout's script
    "rollout-bash-error": Break(
        "pipelines/rollout.yml", '            mkdir -p "$(Build.ArtifactStagingDirectory)/rollout"',
        '            mkdri -p "$(Build.ArtifactStagingDirectory)/rollout"', "Schedule", "main",
        "job Rollout, step 'Roll out main to production': bash exited with code 127", "mkdri: command not found"),
    # a bash option typo in the reconcile
    "production-bash-error": Break(
        "pipelines/production.yml", "      set -euo pipefail\n      mkdir -p",
        "      set -euo pipefial\n      mkdir -p", "BatchedCI", "production",
        "job Reconcile, step 'Reconcile latest with production HEAD': bash exited with code", "pipefial"),
    # a shallow checkout where the matrix step compares with the commit before
    "publish-shallow-checkout": Break(
        "pipelines/publish.yml", "  - checkout: self\n    fetchDepth: 0\n  - template: ../eng/pipelines/templates/"
        "setup-steps.yml\n  - template: ../eng/pipelines/templates/registry-login-steps.yml\n    parameters:\n"
        "      containerRegistry: lifecycle-registry\n\n  - script: lifecycle validate",
        "  - checkout: self\n    fetchDepth: 1\n  - template: ../eng/pipelines/templates/"
        "setup-steps.yml\n  - template: ../eng/pipelines/templates/registry-login-steps.yml\n    parameters:\n"
        "      containerRegistry: lifecycle-registry\n\n  - script: lifecycle validate",
        "IndividualCI", "main", "job Plan, step 'Build matrix (IndividualCI)': bash exited with code", "HEAD~1"),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_broken_copy_fails_with_job_step_and_reason(case: str, pipeline_copy) -> None:
    broken = BREAKS[case]
    fleet = pipeline_copy
    text = fleet.git("show", f"origin/{'main' if broken.branch == 'feature' else broken.branch}:{broken.pipeline}")
    assert text.count(broken.old) == 1, f"{case}: the text to break is not in {broken.pipeline} once"
    fleet.commit({broken.pipeline: text.replace(broken.old, broken.new)}, f"break {case}", branch=broken.branch)
    if broken.reason == "PullRequest":
        fleet.pull_request("feature", 9)
        run = fleet.run(broken.pipeline, "PullRequest", "refs/pull/9/merge", target="refs/heads/main")
    else:
        run = fleet.run(broken.pipeline, broken.reason, broken.branch)

    failures = run.failures()
    matching = [f for f in failures if f.startswith(broken.failure)]
    assert matching, f"{case}: expected a failure starting {broken.failure!r}, got {failures}"
    assert broken.detail in matching[0], matching[0]
    with pytest.raises(AssertionError, match="pipeline failed"):
        run.assert_succeeded()
