"""Run a pipeline file from a GitOps origin at one commit: the YAML as committed (templates included), its
trigger checked, stages and jobs in dependsOn order with their conditions (tests/unit/pipelineexpr.py),
a `$[ ... ]` matrix fanned out into one agent per leg, deployment jobs run as approved (or rejected) with
their environment's checks as eng/azure-devops/environments.yml at that commit declares them (the lock taken,
an approval asked only where the environment has approvers).

    run = run_pipeline(Trigger.ci(origin.bare, "main"), "pipelines/publish.yml", tmp_path, machine)
    run.assert_succeeded()
"""

from __future__ import annotations

import fnmatch
import io
import json
import secrets
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.pipelines.agent import Machine, run_job
from tests.pipelines.model import Deployment, HarnessError, Job, JobRun, Pipeline, Run
from tests.pipelines.templates import load_pipeline
from tests.unit.pipelineexpr import Context, condition, macros, runtime


@dataclass(frozen=True)
class Trigger:
    origin: Path                   # the bare repository the agents clone
    reason: str                    # IndividualCI | BatchedCI | Schedule | Manual | PullRequest
    branch: str                    # Build.SourceBranch
    commit: str                    # Build.SourceVersion
    target: str | None = None      # System.PullRequest.TargetBranch

    @classmethod
    def on(cls, origin: Path, reason: str, branch: str, ref: str | None = None, target: str | None = None) -> "Trigger":
        sha = subprocess.run(["git", "--git-dir", str(origin), "rev-parse", ref or branch], capture_output=True,
                             text=True, check=True).stdout.strip()
        return cls(origin, reason, branch, sha, target)


def run_pipeline(trigger: Trigger, path: str, root: Path, machine: Machine,
                 approvals: dict[str, bool] | None = None) -> Run:
    root.mkdir(parents=True, exist_ok=True)
    pipeline = load_pipeline(_committed(trigger, path, root / "yaml"))
    environments = _environments(root / "yaml", approvals or {})
    _check_trigger(pipeline, trigger, path)
    run = Run(pipeline.path, trigger.commit, root)
    run.artifacts.mkdir(exist_ok=True)
    variables = {**_predefined(trigger), **pipeline.variables}
    stage_results: dict[str, str] = {}
    for stage in pipeline.stages:
        unknown = [d for d in stage.depends_on if d not in stage_results]
        if unknown:
            raise HarnessError(f"{path}: stage {stage.name} depends on {unknown}, not an earlier stage")
        ok = condition(stage.condition, Context(results=stage_results, depends_on=stage.depends_on))
        results = _jobs(pipeline, stage.jobs, variables, run, machine, environments, approvals or {}, ok)
        stage_results[stage.name] = _aggregate(list(results.values()))
    return run


def _committed(trigger: Trigger, path: str, dest: Path) -> Path:
    """The tree as committed at the run's commit: Azure reads the YAML and its templates from there."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "--git-dir", str(trigger.origin), "archive", trigger.commit],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    if not (dest / path).is_file():
        raise HarnessError(f"{path} does not exist at {trigger.commit[:12]}")
    return dest / path


ENVIRONMENTS = "eng/azure-devops/environments.yml"


def _environments(tree: Path, approvals: dict[str, bool]) -> dict[str, dict[str, Any]]:
    """The environments' checks, as committed; an approval decided for an environment without approvers
    is a test that believes in a check Azure would not make."""
    from tests.unit.pipelinecheck import load

    file = tree / ENVIRONMENTS
    found = (load(file) or {}) if file.is_file() else {}
    for name, approved in approvals.items():
        if not (found.get(name) or {}).get("approvers"):
            raise HarnessError(f"approval {approved} given for environment {name}, which has no approvers in "
                               f"{ENVIRONMENTS}")
    return found


def _deployment(job: Job, environments: dict[str, dict[str, Any]], approvals: dict[str, bool]) -> Deployment:
    name = job.environment or ""
    if name not in environments:
        raise HarnessError(f"deployment job {job.name}: environment {name!r} is not declared in {ENVIRONMENTS}, "
                           "so its checks (approvals, lock) are unknown")
    checks = environments[name] or {}
    lock = str(checks.get("exclusiveLock", "false")).lower()  # the file is read as Azure reads YAML: strings
    if lock not in ("true", "false"):
        raise HarnessError(f"{ENVIRONMENTS}: {name}.exclusiveLock is {lock!r}, not true or false")
    approved = approvals.get(name, True) if checks.get("approvers") else True
    return Deployment(job.name, name, approved, "exclusive" if lock == "true" else "none")


def _check_trigger(pipeline: Pipeline, trigger: Trigger, path: str) -> None:
    from tests.unit.pipelinecheck import load

    doc = load(pipeline.path) or {}
    name = trigger.branch.removeprefix("refs/heads/")
    if trigger.reason == "Manual":
        return
    if trigger.reason in ("IndividualCI", "BatchedCI"):
        spec = doc.get("trigger")
        batch = isinstance(spec, dict) and str(spec.get("batch", "false")).lower() == "true"
        if (trigger.reason == "BatchedCI") != batch:
            raise HarnessError(f"{path}: Build.Reason {trigger.reason} but the trigger has batch: {batch}")
        included = _branches(spec)
    elif trigger.reason == "Schedule":
        included = [b for s in doc.get("schedules") or [] for b in _branches(s)]
    elif trigger.reason == "PullRequest":
        name = (trigger.target or "").removeprefix("refs/heads/")
        included = _branches(doc.get("pr"))
    else:
        raise HarnessError(f"Build.Reason {trigger.reason} is not modelled")
    if not any(fnmatch.fnmatchcase(name, b) for b in included):
        raise HarnessError(f"{path}: a {trigger.reason} run on {name} would not be triggered (branches {included})")


def _branches(spec: Any) -> list[str]:
    if spec in (None, "none"):
        return []
    if isinstance(spec, list):
        return [str(b) for b in spec]
    branches = spec.get("branches") or {}
    return [str(b) for b in (branches.get("include") or [])] if isinstance(branches, dict) else list(branches)


def _predefined(trigger: Trigger) -> dict[str, str]:
    found = {"Build.Reason": trigger.reason, "Build.SourceBranch": trigger.branch,
             "Build.SourceBranchName": trigger.branch.rsplit("/", 1)[-1], "Build.SourceVersion": trigger.commit,
             "Build.BuildId": str(secrets.randbelow(10**6)), "Build.Repository.Uri": trigger.origin.as_uri(),
             "System.AccessToken": "harness-" + secrets.token_hex(8), "TF_BUILD": "True", "Agent.OS": "Linux"}
    if trigger.reason == "PullRequest":
        found["System.PullRequest.TargetBranch"] = trigger.target or ""
    return found


def _aggregate(results: list[str]) -> str:
    if not results or all(r == "Skipped" for r in results):
        return "Skipped"
    if "Failed" in results:
        return "Failed"
    return "SucceededWithIssues" if "SucceededWithIssues" in results else "Succeeded"


def _jobs(pipeline: Pipeline, jobs: list[Job], variables: dict[str, str], run: Run, machine: Machine,
          environments: dict[str, dict[str, Any]], approvals: dict[str, bool], stage_runs: bool) -> dict[str, str]:
    by_name = {j.name: j for j in jobs}
    results: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    for job in _ordered(jobs, by_name, pipeline.path):
        ctx = Context(results=results, outputs=outputs, variables=variables, depends_on=job.depends_on)
        if not stage_runs or not condition(job.condition, ctx):
            results[job.name] = run.results[job.name] = "Skipped"
            continue
        legs = _legs(job, ctx)
        if isinstance(legs, str):
            run.jobs[job.name] = JobRun(job.name, "Failed", reason=legs)
            results[job.name] = run.results[job.name] = "Failed"
            continue
        leg_results = []
        for leg, leg_vars in legs.items():
            display = f"{job.name}.{leg}" if leg else job.name
            job_vars = {**variables, **job.variables, **leg_vars}
            problem = _pool(job, job_vars)
            if job.deployment:
                deployment = _deployment(job, environments, approvals)
                run.deployments.append(deployment)
                if not deployment.approved:
                    problem = f"approval for environment {job.environment} was rejected"
            if problem:
                jr = JobRun(display, "Failed", reason=problem)
            else:
                jr = run_job(job, display, job_vars, run.root / "agents" / f"{len(run.jobs):02d}-{display}",
                             run.artifacts, machine, variables["Build.Repository.Uri"])
            run.jobs[display] = jr
            leg_results.append(jr.result)
            outputs.setdefault(job.name, {}).update(jr.outputs)
        results[job.name] = run.results[job.name] = _aggregate(leg_results)
    return results


def _ordered(jobs: list[Job], by_name: dict[str, Job], path: Path) -> list[Job]:
    done: list[Job] = []
    pending = list(jobs)
    while pending:
        ready = [j for j in pending if all(d in {x.name for x in done} for d in j.depends_on)]
        if not ready:
            missing = {d for j in pending for d in j.depends_on if d not in by_name}
            raise HarnessError(f"{path}: dependsOn {sorted(missing) or 'cycle'} among {[j.name for j in pending]}")
        done += ready
        pending = [j for j in pending if j not in ready]
    return done


def _legs(job: Job, ctx: Context) -> dict[str, dict[str, str]] | str:
    if job.matrix is None:
        return {"": {}}
    value = job.matrix
    if isinstance(value, str):
        value = runtime(value, ctx)
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return f"strategy.matrix {job.matrix} evaluated to {value!r}, not a JSON object of legs"
    if not isinstance(value, dict) or not value:
        return f"strategy.matrix {job.matrix} gave no legs ({value!r})"
    return {str(leg): {str(k): str(v) for k, v in (vars_ or {}).items()} for leg, vars_ in value.items()}


def _pool(job: Job, variables: dict[str, str]) -> str:
    if job.vm_image is None:
        return ""
    image = macros(job.vm_image, variables)
    if "$(" in image:
        return f"pool vmImage {job.vm_image} is not set (no such variable)"
    if not image.startswith("ubuntu"):
        raise HarnessError(f"job {job.name}: pool vmImage {image}: this harness runs Linux agents only")
    return ""
