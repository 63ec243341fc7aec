"""The Azure Pipelines files, proven offline.

1. Every YAML file under pipelines/ and eng/pipelines/ (templates included: a steps or jobs template is
   a valid pipeline document) validates against the Azure Pipelines schema kept in
   eng/schemas/azure-pipelines (version and refresh command in its README.md), loaded the way Azure
   Pipelines reads YAML: every scalar a string.
2. That validation fails on a broken copy, naming the place.
3. Every `lifecycle ...` invocation in a `script:`/`bash:` step (and in the runbooks' shell blocks)
   names a command and options that the CLI's own click parser accepts (parsed, never invoked).
4. Every `template:` exists and receives only the parameters it declares (and every one it requires).
5. Schedules and triggers: rollout weekly, publish nightly, cleanup weekly, all `always: "true"`.

Conditional or each insertion keys (`${{ if ... }}:`) cannot be validated by the schema, so this
repository does not use them; test 1 fails, naming the key, if one appears, instead of skipping a file.
The helpers live in tests/unit/pipelinecheck.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest

from tests.unit.pipelinecheck import (
    REPO,
    SCHEMA_PATH,
    check_invocation,
    invocations,
    lifecycle_invocations,
    load,
    pipeline_files,
    rel,
    schema_problem,
    template_problems,
    template_uses,
    walk,
)

# =============================================================================================== tests

def test_schema_is_present() -> None:
    assert SCHEMA_PATH.is_file(), f"the Azure Pipelines schema is expected at {SCHEMA_PATH}"


def test_every_pipeline_file_is_found() -> None:
    names = {rel(p) for p in pipeline_files()}
    for name in ("pr", "publish", "rollout", "production", "cleanup"):
        assert f"pipelines/{name}.yml" in names
    assert any(n.startswith("eng/pipelines/templates/") for n in names)


@pytest.mark.parametrize("path", pipeline_files(), ids=rel)
def test_pipeline_validates_against_schema(path: Path) -> None:
    problem = schema_problem(path)
    assert problem is None, problem


BREAKAGES = {
    # a step key the schema does not know
    "unknown-step-key": ("pipelines/pr.yml", "    name: matrix\n", "    name: matrix\n    retries: '3'\n",
                         "at $.jobs[0].steps[4]: Additional properties are not allowed ('retries' was unexpected)"),
    # a boolean that is not a boolean to Azure Pipelines
    "wrong-type": ("pipelines/publish.yml", "  always: true\n", "  always: True\n",
                   "at $.schedules[0].always: 'True' does not match"),
    # a job property given a mapping instead of a string
    "wrong-shape": ("pipelines/production.yml", "  timeoutInMinutes: 120\n", "  timeoutInMinutes:\n    minutes: 1\n",
                    "at $.jobs[0].timeoutInMinutes:"),
    # a misspelt input of a built-in task
    "unknown-task-input": ("eng/pipelines/templates/registry-login-steps.yml", "    containerRegistry:",
                           "    containerRegistri:", "containerRegistri"),
    # an insertion key: not validated by the schema, so refused by name
    "insertion-key": ("eng/pipelines/templates/setup-steps.yml", "steps:\n",
                      "steps:\n- ${{ if eq(parameters.pythonVersion, '3.11') }}:\n  - script: echo hi\n", "${{ if"),
}


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_schema_validation_fails_on_a_broken_copy(case: str, tmp_path: Path) -> None:
    name, old, new, expected = BREAKAGES[case]
    original = REPO / name
    assert schema_problem(original) is None, "the original must be valid for this test to mean anything"
    text = original.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{name} no longer contains {old!r}: update this test"
    broken = tmp_path / original.name
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    problem = schema_problem(broken)
    assert problem is not None, f"{case}: a broken copy of {name} passed validation"
    assert expected in problem, problem


def test_shell_splitting() -> None:
    script = (
        "set -euo pipefail\n"
        "# lifecycle commented-out --nothing\n"
        'echo "lifecycle is quoted here # not a comment"\n'
        "lifecycle validate  # an inline comment\n"
        'X=1 lifecycle publish --channel staging --images "$(images)" \\\n'
        '  --info "$(Build.ArtifactStagingDirectory)/i.json" 2>&1 | tee out.md\n'
        'case "$(Build.Reason)" in\n'
        "  Schedule) lifecycle stale --channel staging --matrix ;;\n"
        "esac\n"
        'if true; then lifecycle plan --since "origin/${target}" > plan.txt; fi\n'
        "out=$(lifecycle registry digest r/x:t)\n"
    )
    assert lifecycle_invocations(script) == [
        ["validate"],
        ["publish", "--channel", "staging", "--images", "$(images)", "--info",
         "$(Build.ArtifactStagingDirectory)/i.json"],
        ["stale", "--channel", "staging", "--matrix"],
        ["plan", "--since", "origin/${target}"],
        ["registry", "digest", "r/x:t"],
    ]


def _toy_cli() -> click.Group:
    @click.group()
    def root() -> None: ...

    @root.command()
    @click.option("--channel", type=click.Choice(["staging", "latest"]), required=True)
    @click.option("--plan", type=click.Path(exists=True))
    @click.option("--dry-run", is_flag=True)
    def publish(**_: Any) -> None:
        raise AssertionError("the checker must not invoke commands")

    @root.group()
    def registry() -> None: ...

    @registry.command()
    @click.argument("ref")
    def digest(**_: Any) -> None:
        raise AssertionError("the checker must not invoke commands")

    return root


def test_invocation_checker_names_what_is_wrong() -> None:
    toy = _toy_cli()
    assert check_invocation(toy, ["publish", "--channel", "staging", "--plan", "/nonexistent/plan.json"]) is None
    assert check_invocation(toy, ["publish", "--channel", "$(channel)"]) is None
    assert check_invocation(toy, ["registry", "digest", "r/x:t"]) is None
    assert "unknown command `lifecycle nope`" in check_invocation(toy, ["nope"])
    assert "unknown command `lifecycle registry nope`" in check_invocation(toy, ["registry", "nope", "x"])
    assert "unknown option --no-such" in check_invocation(toy, ["publish", "--channel", "staging", "--no-such"])
    assert "--channel" in check_invocation(toy, ["publish", "--channel", "prod"])
    assert "--channel" in check_invocation(toy, ["publish"])  # required option missing
    assert "extra argument" in check_invocation(toy, ["registry", "digest", "a", "b"])
    assert "needs a sub-command" in check_invocation(toy, ["registry"])


def test_pipelines_call_the_verbs_they_are_meant_to() -> None:
    found = invocations()
    verbs = {(rel(i.file), i.args[0]) for i in found if i.args}
    expected = {
        ("pipelines/pr.yml", "validate"), ("pipelines/pr.yml", "plan"), ("pipelines/pr.yml", "matrix"),
        ("pipelines/publish.yml", "stale"), ("pipelines/publish.yml", "matrix"), ("pipelines/publish.yml", "publish"),
        ("pipelines/rollout.yml", "rollout"), ("pipelines/production.yml", "reconcile"),
        ("pipelines/cleanup.yml", "cleanup"), ("pipelines/cleanup.yml", "consumers"),
        ("eng/pipelines/templates/build-legs-job.yml", "publish"),
    }
    assert expected <= verbs, f"missing: {sorted(expected - verbs)}"
    args = {i.args for i in found}
    assert ("stale", "--channel", "staging", "--matrix") in args
    legs = [i.args for i in found if rel(i.file).endswith("build-legs-job.yml")]
    assert any("--no-push" in a for a in legs) and any("--no-move" in a for a in legs), legs
    applies = [i.args for i in found if i.args[:1] == ("cleanup",) and "--apply" in i.args]
    assert applies and all("--from-plan" in a for a in applies), "cleanup may only apply a reviewed plan"


def test_every_lifecycle_invocation_parses() -> None:
    from lifecycle.cli import cli

    found = invocations()
    assert found
    problems = [f"{inv}\n    -> {problem}" for inv in found if (problem := check_invocation(cli, list(inv.args)))]
    assert not problems, "lifecycle invocations the CLI does not accept:\n" + "\n".join(problems)


RUNBOOKS = ("branches.md", "docs/rollback.md", "docs/operations.md", "docs/new-image.md")
FENCE = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.S | re.M)
PLACEHOLDER = re.compile(r"<[a-z][a-z0-9-]*>")


def test_runbook_commands_parse() -> None:
    """The commands a first responder copies at 3 a.m. must exist: same check as the pipelines'."""
    from lifecycle.cli import cli

    problems, count = [], 0
    for name in RUNBOOKS:
        text = (REPO / name).read_text(encoding="utf-8")
        for block in FENCE.findall(text):
            for args in lifecycle_invocations(PLACEHOLDER.sub("PLACEHOLDER", block)):
                count += 1
                if problem := check_invocation(cli, args):
                    problems.append(f"{name}: lifecycle {shlex.join(args)}\n    -> {problem}")
    assert count >= 10, f"expected the runbooks to show their commands, found {count}"
    assert not problems, "runbook commands the CLI does not accept:\n" + "\n".join(problems)


def test_templates_exist_and_receive_declared_parameters() -> None:
    uses = [u for f in pipeline_files() for u in template_uses(f)]
    assert len(uses) >= 10, "the pipelines are expected to share their steps through templates"
    problems = template_problems(uses, REPO)
    assert not problems, "\n".join(problems)


def test_template_check_names_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "steps.yml").write_text(
        "parameters:\n- name: needed\n  type: string\n- name: mode\n  type: string\n  default: a\n"
        "  values: [a, b]\nsteps:\n- script: echo ${{ parameters.needed }}\n")
    (tmp_path / "pipeline.yml").write_text(
        "steps:\n"
        "- template: templates/steps.yml\n  parameters:\n    needed: x\n    mode: b\n"  # fine
        "- template: templates/steps.yml\n  parameters:\n    neded: x\n    mode: c\n"  # 3 problems
        "- template: templates/missing.yml\n")
    problems = template_problems(template_uses(tmp_path / "pipeline.yml"), tmp_path)
    assert len(problems) == 4, problems
    joined = "\n".join(problems)
    assert "parameter 'neded' is not declared" in joined
    assert "parameter 'mode'='c' is not one of ['a', 'b']" in joined
    assert "required parameter 'needed'" in joined
    assert "templates/missing.yml does not exist" in joined


def test_every_template_is_used() -> None:
    used = {u.target for f in pipeline_files() for u in template_uses(f)}
    templates = [p.resolve() for p in pipeline_files() if "templates" in p.parts]
    unused = [rel(t) for t in templates if t not in used]
    assert not unused, f"templates nobody includes: {unused}"


def test_output_variables_refer_to_named_steps() -> None:
    """`dependencies.JOB.outputs['STEP.VAR']` must name a job of the file and a step of that job."""
    ref = re.compile(r"dependencies\.(\w+)\.outputs\['(\w+)\.(\w+)'\]")
    for path in pipeline_files():
        doc = load(path)
        jobs = {node.get("job") or node.get("deployment"): node for _, node in walk(doc)
                if isinstance(node, dict) and ("job" in node or "deployment" in node)}
        for trail, node in walk(doc):
            if not isinstance(node, str):
                continue
            for job, step, _var in ref.findall(node):
                assert job in jobs, f"{rel(path)} {trail}: no job {job!r}"
                names = {s.get("name") for _, s in walk(jobs[job]) if isinstance(s, dict)}
                assert step in names, f"{rel(path)} {trail}: job {job!r} has no step named {step!r}"


def _cron(path: str) -> list[tuple[list[str], dict[str, Any]]]:
    schedules = load(REPO / path).get("schedules") or []
    return [(s["cron"].split(), s) for s in schedules]


@pytest.mark.parametrize("path,cadence", [
    ("pipelines/rollout.yml", "weekly"),
    ("pipelines/publish.yml", "nightly"),
    ("pipelines/cleanup.yml", "weekly"),
])
def test_schedules(path: str, cadence: str) -> None:
    crons = _cron(path)
    assert len(crons) == 1, f"{path}: expected one schedule, found {len(crons)}"
    (minute, hour, dom, month, dow), schedule = crons[0]
    assert schedule.get("always") == "true", f"{path}: the schedule must run without new commits"
    assert schedule.get("branches", {}).get("include") == ["main"], f"{path}: schedule must run on main"
    assert minute.isdigit() and hour.isdigit(), f"{path}: one run at a fixed time, got {schedule['cron']!r}"
    assert dom == "*" and month == "*", f"{path}: {schedule['cron']!r}"
    if cadence == "weekly":
        assert re.fullmatch(r"[0-6]", dow), f"{path}: weekly means one day of the week, got {dow!r}"
    else:
        assert dow == "*", f"{path}: nightly means every day, got {dow!r}"


def test_triggers() -> None:
    pr, publish = load(REPO / "pipelines/pr.yml"), load(REPO / "pipelines/publish.yml")
    production = load(REPO / "pipelines/production.yml")
    assert pr["trigger"] == "none" and pr["pr"]["branches"]["include"] == ["main"]
    assert publish["trigger"]["branches"]["include"] == ["main"] and publish["pr"] == "none"
    assert production["trigger"]["branches"]["include"] == ["production"] and production["pr"] == "none"
    for name in ("rollout", "cleanup"):
        doc = load(REPO / f"pipelines/{name}.yml")
        assert doc["trigger"] == "none" and doc["pr"] == "none", f"{name}: runs on its schedule only"


def test_gated_jobs_use_environments() -> None:
    def deployments(path: str) -> list[dict[str, Any]]:
        return [n for _, n in walk(load(REPO / path)) if isinstance(n, dict) and "deployment" in n]

    rollout = deployments("pipelines/rollout.yml")
    assert [d["environment"] for d in rollout] == ["production"]
    cleanup = deployments("pipelines/cleanup.yml")
    assert len(cleanup) == 1 and cleanup[0]["environment"]
    steps = cleanup[0]["strategy"]["runOnce"]["deploy"]["steps"]
    assert steps[0].get("download") == "current" and steps[0].get("artifact") == "cleanup-plan"

