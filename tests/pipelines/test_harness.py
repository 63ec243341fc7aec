"""The harness itself on small pipelines in a real git repository (no engine, no registry): job order,
output variables into a matrix, step conditions, continueOnError, task.complete, artifacts, and the
clear failures where it does not know what Azure would do."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fixtures.gitrepo import git, make_repo
from tests.pipelines import vso
from tests.pipelines.agent import Machine
from tests.pipelines.model import HarnessError
from tests.pipelines.runner import Trigger, run_pipeline

pytestmark = pytest.mark.pipelines

GRAPH = """\
trigger:
  branches:
    include: [main]
jobs:
- job: Plan
  steps:
  - checkout: self
    fetchDepth: 1
  - script: |
      echo "##vso[task.setvariable variable=legs;isOutput=true]{\\"one\\":{\\"word\\":\\"alpha\\"},\\"two\\":{\\"word\\":\\"beta\\"}}"
      echo "##vso[task.setvariable variable=later]from plan"
    name: out
  - script: echo "$(later) $(Build.Reason)" > "$(Build.ArtifactStagingDirectory)/note.txt"
  - publish: $(Build.ArtifactStagingDirectory)/note.txt
    artifact: note
- job: Legs
  dependsOn: Plan
  condition: and(succeeded(), ne(dependencies.Plan.outputs['out.legs'], '{}'))
  strategy:
    matrix: $[ dependencies.Plan.outputs['out.legs'] ]
  steps:
  - checkout: self
    fetchDepth: 0
  - download: current
    artifact: note
  - script: |
      set -euo pipefail
      test "$(git rev-parse HEAD)" = "$(Build.SourceVersion)"
      mkdir -p "$(Build.ArtifactStagingDirectory)/out"
      cat "$(Pipeline.Workspace)/note/note.txt" > "$(Build.ArtifactStagingDirectory)/out/$(word).txt"
      echo "##vso[task.logissue type=warning]leg $(word)"
  - script: exit 3
    displayName: allowed to fail
    continueOnError: true
  - script: echo "##vso[task.complete result=SucceededWithIssues;]partly"
  - publish: $(Build.ArtifactStagingDirectory)/out
    artifact: out-$(word)
- job: OnlyOnFailure
  dependsOn: Legs
  condition: failed()
  steps:
  - checkout: none
"""


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path, {"pipelines/graph.yml": GRAPH, "README.md": "x\n"}, name="dev")
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True, capture_output=True)
    return bare


def machine() -> Machine:
    return Machine.here(Path(sys.executable), {})


def commit(bare: Path, tmp_path: Path, files: dict[str, str]) -> None:
    work = tmp_path / "edit"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text, encoding="utf-8")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "edit")
    git(work, "push", "-q", "origin", "main")


def test_outputs_fan_out_into_legs_with_artifacts(origin: Path, tmp_path: Path) -> None:
    run = run_pipeline(Trigger.on(origin, "IndividualCI", "refs/heads/main"), "pipelines/graph.yml",
                       tmp_path / "run", machine())

    assert run.results == {"Plan": "Succeeded", "Legs": "SucceededWithIssues", "OnlyOnFailure": "Skipped"}
    assert sorted(j for j in run.jobs if j.startswith("Legs.")) == ["Legs.one", "Legs.two"]
    assert (run.artifacts / "out-alpha" / "alpha.txt").read_text() == "from plan IndividualCI\n"
    assert (run.artifacts / "out-beta" / "beta.txt").read_text() == "from plan IndividualCI\n"
    assert [i[1:] for i in run.jobs["Legs.one"].issues] == [("warning", "leg alpha")]
    steps = {s.step: s.result for s in run.jobs["Legs.two"].steps}
    assert steps["allowed to fail"] == "Failed"
    assert run.failures() == []


def test_a_failing_step_fails_its_job_and_names_it(origin: Path, tmp_path: Path) -> None:
    commit(origin, tmp_path, {"pipelines/graph.yml": GRAPH.replace('test "$(git rev-parse HEAD)"', 'nosuchcommand "$(git rev-parse HEAD)"')})
    run = run_pipeline(Trigger.on(origin, "IndividualCI", "refs/heads/main"), "pipelines/graph.yml",
                       tmp_path / "run", machine())
    assert run.results["Legs"] == "Failed" and run.results["OnlyOnFailure"] == "Succeeded"
    assert any(f.startswith("job Legs.one, step 'set -euo pipefail':") and "nosuchcommand: command not found" in f
               for f in run.failures()), run.failures()


@pytest.mark.parametrize("edit, message", [
    (("  - checkout: none\n", "  - checkout: none\n  - task: PowerShell@2\n"), "task PowerShell@2 has no local equivalent"),
    (("    name: out\n", "    name: out\n  - script: echo '##vso[task.setprogress value=5]'\n"),
     "logging command task.setprogress is not modelled"),
    (("  - checkout: none\n", "  - template: missing.yml\n"), "template missing.yml not found"),
    (("  - checkout: none\n", "  - script: echo ${{ parameters.x }}\n"), "template expression in a pipeline file"),
])
def test_what_the_harness_does_not_know_fails_by_name(origin: Path, tmp_path: Path, edit, message) -> None:
    broken = GRAPH.replace(*edit).replace("condition: failed()", "condition: always()")
    commit(origin, tmp_path, {"pipelines/graph.yml": broken})
    with pytest.raises(HarnessError, match=message):
        run_pipeline(Trigger.on(origin, "IndividualCI", "refs/heads/main"), "pipelines/graph.yml",
                     tmp_path / "run", machine())


def test_a_run_the_trigger_would_not_start_fails(origin: Path, tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="would not be triggered"):
        run_pipeline(Trigger.on(origin, "Schedule", "refs/heads/main"), "pipelines/graph.yml", tmp_path / "r", machine())


def test_template_parameters_and_insertions(tmp_path: Path) -> None:
    from tests.pipelines.templates import load_pipeline

    (tmp_path / "t.yml").write_text(textwrap.dedent("""\
        parameters:
        - name: word
          type: string
          values: [a, b]
        steps:
        - script: echo ${{ parameters.word }}
          displayName: say ${{ parameters.word }}
        """))
    (tmp_path / "p.yml").write_text("jobs:\n- job: J\n  steps:\n  - template: t.yml\n    parameters:\n      word: b\n")
    steps = load_pipeline(tmp_path / "p.yml").stages[0].jobs[0].steps
    assert [s.body["script"] for s in steps] == ["echo b"]
    (tmp_path / "p.yml").write_text("jobs:\n- job: J\n  steps:\n  - template: t.yml\n    parameters:\n      word: c\n")
    with pytest.raises(HarnessError, match="word='c' is not one of"):
        load_pipeline(tmp_path / "p.yml")
    (tmp_path / "t.yml").write_text("steps:\n- ${{ if eq(1, 1) }}:\n  - script: echo\n")
    (tmp_path / "p.yml").write_text("jobs:\n- job: J\n  steps:\n  - template: t.yml\n")
    with pytest.raises(HarnessError, match="insertion"):
        load_pipeline(tmp_path / "p.yml")


def test_logging_commands_are_parsed() -> None:
    found = vso.parse("x\n##vso[task.setvariable variable=a;isOutput=true]1 2\n##vso[task.complete result=Failed;]no\n", "t")
    assert [(c.command, c.properties, c.message) for c in found] == [
        ("task.setvariable", {"variable": "a", "isOutput": "true"}, "1 2"),
        ("task.complete", {"result": "Failed"}, "no")]
    with pytest.raises(HarnessError, match="malformed"):
        vso.parse("##vso[task.setvariable variable=a\n", "t")


DEPLOY = """\
trigger:
  branches:
    include: [main]
jobs:
- deployment: Ship
  environment: shipyard
  strategy:
    runOnce:
      deploy:
        steps:
        - checkout: self
        - script: echo shipped > "$(Build.ArtifactStagingDirectory)/shipped.txt"
"""


def test_deployment_jobs_take_the_checks_their_environment_declares(origin: Path, tmp_path: Path) -> None:
    trigger = lambda: Trigger.on(origin, "IndividualCI", "refs/heads/main")  # noqa: E731  (main moves below)
    commit(origin, tmp_path / "a", {"pipelines/deploy.yml": DEPLOY})
    with pytest.raises(HarnessError, match="environment 'shipyard' is not declared in eng/azure-devops/environments.yml"):
        run_pipeline(trigger(), "pipelines/deploy.yml", tmp_path / "r0", machine())

    commit(origin, tmp_path / "b", {"eng/azure-devops/environments.yml": "shipyard:\n  approvers: [ops]\n  exclusiveLock: true\n"})
    approved = run_pipeline(trigger(), "pipelines/deploy.yml", tmp_path / "r1", machine())
    assert approved.results == {"Ship": "Succeeded"}
    assert [(d.environment, d.approved, d.lock) for d in approved.deployments] == [("shipyard", True, "exclusive")]
    rejected = run_pipeline(trigger(), "pipelines/deploy.yml", tmp_path / "r2", machine(), {"shipyard": False})
    assert rejected.results == {"Ship": "Failed"} and "approval for environment shipyard was rejected" in rejected.failures()[0]
    assert not rejected.jobs["Ship"].steps, "a rejected deployment runs no step"

    commit(origin, tmp_path / "c", {"eng/azure-devops/environments.yml": "shipyard:\n  approvers: []\n  exclusiveLock: false\n"})
    unchecked = run_pipeline(trigger(), "pipelines/deploy.yml", tmp_path / "r3", machine())
    assert [(d.approved, d.lock) for d in unchecked.deployments] == [(True, "none")]
    with pytest.raises(HarnessError, match="environment shipyard, which has no approvers"):
        run_pipeline(trigger(), "pipelines/deploy.yml", tmp_path / "r4", machine(), {"shipyard": False})
