"""One job on a fresh agent: its own workspace (s/ sources, a/ artifact staging, _temp/, a home of its own),
the steps in order with their conditions, scripts run for real with bash, logging commands applied.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.pipelines import tasks, vso
from tests.pipelines.model import HarnessError, Job, JobRun, Step, StepResult
from tests.unit.pipelineexpr import Context, condition, macros

SECRET = {"System.AccessToken"}        # not exported to scripts unless mapped through env:
PASSED_THROUGH = ("DOCKER_HOST", "CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF",
                  "LANG", "TZ", "XDG_RUNTIME_DIR")


@dataclass
class Machine:
    """What every agent of a run shares: the tool cache, the service connections, the engine's environment."""

    python: Path
    connections: dict[str, tasks.ServiceConnection]
    env: dict[str, str] = field(default_factory=dict)
    step_timeout: float = 600.0

    @classmethod
    def here(cls, python: Path, connections: dict[str, tasks.ServiceConnection]) -> "Machine":
        env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
        # The agent is offline: pip resolves from what the tool cache holds, builds without isolation
        # (pip reads PIP_NO_BUILD_ISOLATION=0 as --no-build-isolation).
        env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1",
                   PATH="/usr/local/bin:/usr/bin:/bin")
        return cls(python, connections, env)


def run_job(job: Job, display: str, variables: dict[str, str], workspace: Path, artifacts: Path,
            machine: Machine, origin: str) -> JobRun:
    for sub in ("s", "a", "b", "_temp", "home"):
        (workspace / sub).mkdir(parents=True, exist_ok=True)
    variables = {**variables,
                 "System.JobId": str(uuid.uuid4()), "System.JobName": display.rsplit(".", 1)[-1],
                 "System.JobDisplayName": display, "Pipeline.Workspace": str(workspace),
                 "Agent.BuildDirectory": str(workspace), "Build.SourcesDirectory": str(workspace / "s"),
                 "System.DefaultWorkingDirectory": str(workspace / "s"),
                 "Build.ArtifactStagingDirectory": str(workspace / "a"),
                 "Build.StagingDirectory": str(workspace / "a"), "Build.BinariesDirectory": str(workspace / "b"),
                 "Agent.TempDirectory": str(workspace / "_temp")}
    run = JobRun(display, "Succeeded", variables=variables, workspace=workspace)
    ctx = tasks.TaskContext(variables, artifacts, workspace, machine.python, machine.connections)
    steps = list(job.steps)
    if job.deployment and not any(s.kind == "download" for s in steps):
        # runOnce deploy hooks download the run's artifacts unless told `download: none`
        steps.insert(0, Step("download", {"download": "current", "displayName": "Download (implicit)"}, "implicit"))
    if not job.deployment and not any(s.kind == "checkout" for s in steps):
        raise HarnessError(f"job {display}: no checkout step; the implicit checkout's depth depends on the "
                           "pipeline's settings in Azure DevOps, so write `checkout: self` with fetchDepth")
    for index, step in enumerate(steps):
        status = Context(results={"__job": run.result}, depends_on=("__job",), variables=variables)
        label = macros(step.display, variables)
        if not condition(step.condition, status):
            run.steps.append(StepResult(display, label, "Skipped"))
            continue
        result = _step(step, index, label, run, ctx, machine, origin)
        run.steps.append(result)
        if result.result == "Failed" and not step.continue_on_error:
            run.result = "Failed"
        elif result.result != "Succeeded" and run.result == "Succeeded":
            run.result = "SucceededWithIssues"
    return run


def _step(step: Step, index: int, label: str, run: JobRun, ctx: tasks.TaskContext, machine: Machine,
          origin: str) -> StepResult:
    v = run.variables
    ctx.log.clear()
    try:
        if step.kind == "script":
            return _script(step, index, label, run, ctx, machine)
        if step.kind == "checkout":
            _checkout(step, v, origin, machine)
        elif step.kind == "task":
            inputs = {k: macros(str(val), v) for k, val in (step.body.get("inputs") or {}).items()}
            tasks.run_task(step.body["task"], inputs, ctx)
        elif step.kind == "publish":
            tasks.publish(Path(macros(step.body["publish"], v)), macros(step.body["artifact"], v), ctx)
        elif step.kind == "download":
            _download(step, ctx)
    except tasks.StepFailed as failure:
        return StepResult(run.job, label, "Failed", str(failure), "\n".join(ctx.log))
    except HarnessError as unknown:
        raise HarnessError(f"job {run.job}, step {label!r}: {unknown}") from unknown
    return StepResult(run.job, label, "Succeeded", output="\n".join(ctx.log))


def _download(step: Step, ctx: tasks.TaskContext) -> None:
    source = step.body["download"]
    if source == "none":
        return
    if source != "current":
        raise HarnessError(f"download from {source!r} (another pipeline) is not modelled")
    name = step.body.get("artifact")
    if name is None and not (ctx.artifacts.is_dir() and any(ctx.artifacts.iterdir())):
        return  # the implicit download of a run with no artifacts yet downloads nothing
    target = ctx.workspace / name if name else ctx.workspace
    tasks.download(name, target, step.body.get("patterns", "**"), ctx)


def _checkout(step: Step, v: dict[str, str], origin: str, machine: Machine) -> None:
    if step.body["checkout"] == "none":
        return
    if step.body["checkout"] != "self":
        raise HarnessError(f"checkout of {step.body['checkout']!r} is not modelled (only self)")
    depth = int(macros(str(step.body.get("fetchDepth", "0")), v))
    sources = Path(v["Build.SourcesDirectory"])
    sha, branch = v["Build.SourceVersion"], v["Build.SourceBranch"]
    git = ["git", "-C", str(sources), "-c", "protocol.version=2"]
    env = {**machine.env, "HOME": str(sources.parent / "home"), "GIT_TERMINAL_PROMPT": "0"}
    commands = [["git", "init", "-q", str(sources)], git[:3] + ["remote", "add", "origin", origin]]
    if depth > 0:  # the agent fetches just the commit, that deep
        commands.append(git + ["fetch", "-q", "--no-tags", f"--depth={depth}", "origin", f"+{sha}:refs/remotes/origin/{sha}"])
    else:
        refspecs = ["+refs/heads/*:refs/remotes/origin/*"]
        if not branch.startswith("refs/heads/"):
            refspecs.append(f"+{branch}:refs/remotes/{branch.removeprefix('refs/')}")
        commands.append(git + ["fetch", "-q", "--tags", "origin", *refspecs])
    commands.append(git + ["checkout", "-q", "--force", sha])
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)
        if done.returncode != 0:
            raise tasks.StepFailed(f"{' '.join(command[3:])} failed: {done.stderr.strip()}")


def _script(step: Step, index: int, label: str, run: JobRun, ctx: tasks.TaskContext, machine: Machine) -> StepResult:
    v = run.variables
    script = Path(v["Agent.TempDirectory"]) / f"step{index}-{uuid.uuid4().hex[:8]}.sh"
    script.write_text(macros(step.body["script"], v), encoding="utf-8")
    env = {**machine.env, "HOME": str(Path(v["Pipeline.Workspace"]) / "home")}
    env.update({k.upper().replace(".", "_"): val for k, val in v.items() if k not in SECRET})
    env.update({str(k): macros(str(val), v) for k, val in (step.body.get("env") or {}).items()})
    env["PATH"] = ":".join([*ctx.path, env["PATH"]])
    cwd = macros(step.body.get("workingDirectory", v["System.DefaultWorkingDirectory"]), v)
    try:
        done = subprocess.run(["bash", "--noprofile", "--norc", str(script)], cwd=cwd, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              timeout=machine.step_timeout)
    except subprocess.TimeoutExpired:
        return StepResult(run.job, label, "Failed", f"timed out after {machine.step_timeout:.0f}s")
    output = done.stdout
    result, reason = ("Succeeded", "") if done.returncode == 0 else (
        "Failed", f"bash exited with code {done.returncode}: {_last_lines(output)}")
    for command in vso.parse(output, "its output"):
        result, reason = _apply(command, step, index, label, run, ctx, result, reason)
    return StepResult(run.job, label, result, reason, output)


def _apply(command: vso.Command, step: Step, index: int, label: str, run: JobRun, ctx: tasks.TaskContext,
           result: str, reason: str) -> tuple[str, str]:
    p, v = command.properties, run.variables
    if command.command == "task.setvariable":
        name = p.get("variable")
        if not name:
            raise HarnessError("setvariable without a variable name")
        if command.flag("isOutput"):
            # unnamed steps get a generated name in Azure, which nothing can refer to
            ref = f"{step.name or f'__step{index}'}.{name}"
            run.outputs[ref] = command.message
            v[ref] = command.message
        else:
            v[name] = command.message
    elif command.command == "task.logissue":
        run.issues.append((label, p.get("type", ""), command.message))
    elif command.command == "task.complete":
        verdict = p.get("result", "Succeeded")
        if verdict not in ("Succeeded", "SucceededWithIssues", "Failed"):
            raise HarnessError(f"task.complete result={verdict!r} is not known")
        if result != "Failed":
            result, reason = verdict, command.message or reason
    elif command.command == "task.uploadsummary":
        path = Path(command.message.strip())
        if path.is_file():
            run.summaries.append(path)
        else:
            run.issues.append((label, "warning", f"summary file {path} not found"))
    elif command.command == "task.prependpath":
        ctx.path.insert(0, command.message.strip())
    return result, reason


def _last_lines(output: str, count: int = 3) -> str:
    return " | ".join(line for line in output.strip().splitlines()[-count:])
