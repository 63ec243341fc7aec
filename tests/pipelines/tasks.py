"""Local equivalents of the tasks and step shorthands the pipelines use. Each does what the Azure task does,
on this machine: pipeline artifacts are folders under the run, the Python tool cache is one prepared virtual
environment, a Docker registry service connection is the local registry. A task not listed here raises
HarnessError naming it: nothing is skipped silently.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tests.pipelines.model import HarnessError


class StepFailed(Exception):
    """The task ran and failed, as the Azure task would (the job fails unless continueOnError)."""


@dataclass(frozen=True)
class ServiceConnection:
    registry: str                  # host:port
    username: str | None = None
    password: str | None = None


@dataclass
class TaskContext:
    variables: dict[str, str]      # the job's variables: a task may set some (DOCKER_CONFIG)
    artifacts: Path                # the run's artifacts, one folder per artifact
    workspace: Path                # $(Pipeline.Workspace)
    python: Path                   # the tool cache's Python: <venv>/bin/python
    connections: dict[str, ServiceConnection]
    path: list[str] = field(default_factory=list)   # prepended to PATH for the following steps
    log: list[str] = field(default_factory=list)


def run_task(name: str, inputs: dict[str, str], ctx: TaskContext) -> None:
    task = TASKS.get(name)
    if task is None:
        raise HarnessError(f"task {name} has no local equivalent in tests/pipelines/tasks.py")
    task(inputs, ctx)


def use_python(inputs: dict[str, str], ctx: TaskContext) -> None:
    import subprocess

    spec = inputs.get("versionSpec", "")
    version = subprocess.run([str(ctx.python), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    if not re.fullmatch(r"\d+(\.\d+){0,2}", spec):
        raise HarnessError(f"UsePythonVersion@0: versionSpec {spec!r} (a range) is not modelled")
    if version.split(".")[: len(spec.split("."))] != spec.split("."):
        raise StepFailed(f"Version spec {spec} for architecture x64 did not match any version in the tool cache "
                         f"(it has {version})")
    ctx.path.insert(0, str(ctx.python.parent))
    ctx.log.append(f"Found tool in cache: Python {version}")


def docker(inputs: dict[str, str], ctx: TaskContext) -> None:
    command = inputs.get("command", "buildAndPush")
    if command != "login":
        raise HarnessError(f"Docker@2 command={command} has no local equivalent (only login)")
    name = inputs.get("containerRegistry", "")
    connection = ctx.connections.get(name)
    if connection is None:
        raise StepFailed(f"service connection {name!r} not found (known: {sorted(ctx.connections)})")
    entry: dict[str, str] = {}
    if connection.username:
        entry["auth"] = base64.b64encode(f"{connection.username}:{connection.password}".encode()).decode()
    config = Path(ctx.variables["Agent.TempDirectory"]) / f"docker_login_{len(ctx.log)}"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.json").write_text(json.dumps({"auths": {connection.registry: entry}}), encoding="utf-8")
    ctx.variables["DOCKER_CONFIG"] = str(config)
    ctx.log.append(f"Logged in to {connection.registry}")


def download_pipeline_artifact(inputs: dict[str, str], ctx: TaskContext) -> None:
    if inputs.get("buildType", "current") != "current" or inputs.get("source", "current") != "current":
        raise HarnessError("DownloadPipelineArtifact@2: only buildType current is modelled")
    name = inputs.get("artifact") or inputs.get("artifactName")
    target = Path(inputs.get("targetPath") or inputs.get("path") or ctx.workspace)
    download(name, target, inputs.get("itemPattern", "**"), ctx)


def download(name: str | None, target: Path, pattern: str, ctx: TaskContext) -> None:
    """Copy artifacts into `target` (one named artifact into it; all of them as target/<name>/) keeping the
    files whose `<artifact>/<path>` matches the minimatch pattern."""
    available = sorted(p.name for p in ctx.artifacts.iterdir()) if ctx.artifacts.is_dir() else []
    if name is not None and name not in available:
        raise StepFailed(f"Artifact {name} was not found for build (artifacts: {available})")
    chosen = [name] if name else available
    matcher = re.compile(_glob_regex(pattern))
    copied = 0
    for artifact in chosen:
        source = ctx.artifacts / artifact
        for file in sorted(p for p in source.rglob("*") if p.is_file()):
            relative = f"{artifact}/{file.relative_to(source).as_posix()}"
            if not (matcher.fullmatch(relative) or (name and matcher.fullmatch(file.relative_to(source).as_posix()))):
                continue
            dest = (target / file.relative_to(source)) if name else (target / relative)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, dest)
            copied += 1
    if not copied:
        # Whether Azure fails or warns on an empty download depends on the task version: do not guess.
        raise HarnessError(f"download of {name or 'every artifact'} matching {pattern!r} found no file "
                           f"(artifacts: {available})")
    ctx.log.append(f"Downloaded {copied} files to {target}")


def publish(path: Path, name: str, ctx: TaskContext) -> None:
    if not path.exists():
        raise StepFailed(f"Path does not exist: {path}")
    dest = ctx.artifacts / name
    if dest.exists():
        raise StepFailed(f"Artifact {name} already exists for this run")
    if path.is_dir():
        shutil.copytree(path, dest)
    else:
        dest.mkdir(parents=True)
        shutil.copy2(path, dest / path.name)
    ctx.log.append(f"Uploaded artifact {name}")


def _glob_regex(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


TASKS: dict[str, Callable[[dict[str, Any], TaskContext], None]] = {
    "UsePythonVersion@0": use_python,
    "Docker@2": docker,
    "DownloadPipelineArtifact@2": download_pipeline_artifact,
}
