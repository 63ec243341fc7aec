"""The expanded pipeline (stages, jobs, steps) and what a run of it produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class HarnessError(Exception):
    """The pipeline uses something whose Azure behaviour this harness does not model: the test fails here."""


@dataclass
class Step:
    kind: str                      # script | task | checkout | publish | download
    body: dict[str, Any]
    where: str                     # file and trail, for messages

    @property
    def display(self) -> str:
        # without a displayName Azure shows the kind and the script's first line
        named = self.body.get("displayName") or self.body.get("name")
        return str(named) if named else str(self.body.get(self.kind)).strip().splitlines()[0]

    @property
    def name(self) -> str | None:
        return self.body.get("name")

    @property
    def condition(self) -> str | None:
        return self.body.get("condition")

    @property
    def continue_on_error(self) -> bool:
        return str(self.body.get("continueOnError", "false")).lower() == "true"


@dataclass
class Job:
    name: str
    stage: str
    steps: list[Step]
    depends_on: tuple[str, ...] = ()
    condition: str | None = None
    matrix: Any = None             # None, a runtime expression or a mapping of legs
    variables: dict[str, str] = field(default_factory=dict)
    vm_image: str | None = None
    environment: str | None = None  # deployment jobs only
    deployment: bool = False


@dataclass
class Stage:
    name: str
    jobs: list[Job]
    depends_on: tuple[str, ...] = ()
    condition: str | None = None


@dataclass
class Pipeline:
    path: Path
    stages: list[Stage]
    variables: dict[str, str] = field(default_factory=dict)


@dataclass
class StepResult:
    job: str
    step: str
    result: str                    # Succeeded | SucceededWithIssues | Failed | Skipped
    reason: str = ""
    output: str = ""


@dataclass
class JobRun:
    job: str                       # the job's name, with `.leg` for a matrix leg
    result: str
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    issues: list[tuple[str, str, str]] = field(default_factory=list)   # (step, type, message)
    summaries: list[Path] = field(default_factory=list)
    reason: str = ""
    workspace: Path | None = None


@dataclass
class Deployment:
    job: str
    environment: str
    approved: bool
    lock: str                      # the environment's exclusive lock, as the run took it


@dataclass
class Run:
    pipeline: Path
    commit: str
    root: Path
    jobs: dict[str, JobRun] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)        # job (not leg) -> aggregate result
    deployments: list[Deployment] = field(default_factory=list)

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def failures(self) -> list[str]:
        found = []
        for run in self.jobs.values():
            if run.result != "Failed":
                continue
            failed = [s for s in run.steps if s.result == "Failed"]
            found += [f"job {run.job}, step {s.step!r}: {s.reason}" for s in failed] or [f"job {run.job}: {run.reason}"]
        return found

    def assert_succeeded(self) -> None:
        problems = self.failures()
        assert not problems, "pipeline failed:\n" + "\n".join(problems) + "\n" + self.log_tail()

    def log_tail(self, chars: int = 4000) -> str:
        text = "".join(f"--- {j.job} / {s.step} [{s.result}]\n{s.output}" for j in self.jobs.values() for s in j.steps)
        return text[-chars:]

    def summary_text(self) -> str:
        return "".join(p.read_text(encoding="utf-8") for j in self.jobs.values() for p in j.summaries)
