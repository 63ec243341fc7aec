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

import json
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
    # the environments' checks are declared where the pipeline tests read them: production's lock
    # keeps two rollouts from running at once, and both ask for an approval
    used = {d["environment"] for path in pipeline_files() for d in deployments(rel(path))}
    declared = load(REPO / "eng/azure-devops/environments.yml")
    assert set(declared) == used, f"eng/azure-devops/environments.yml declares {sorted(declared)}, pipelines use {sorted(used)}"
    assert declared["production"]["exclusiveLock"] == "true"
    assert all(checks["approvers"] for checks in declared.values())



# ------------------------------------------------------------------ the level matrix, run on paper

LEG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")


def _plan_outputs(repo: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, str]:
    """The output variables `lifecycle matrix` sets under Azure Pipelines, as the Plan job's step `matrix`."""
    from tests.fixtures.catalogs import run_cli

    monkeypatch.setenv("TF_BUILD", "True")
    code, out, err = run_cli(["matrix", "--repo", str(repo), *args])
    assert code == 0, err
    found = re.findall(r"^##vso\[task\.setvariable variable=(\w+);isOutput=true\](.*)$", out, re.M)
    return {f"matrix.{name}": value for name, value in found}


def _steps(includer: Path, steps: list[Any], params: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps with every `template:` expanded and ${{ parameters.x }} substituted, as Azure compiles them."""
    from tests.unit.pipelinecheck import declared_parameters, expand, resolve_template

    out: list[dict[str, Any]] = []
    for step in steps:
        if "template" in step:
            target = resolve_template(includer, step["template"])
            given = {k: expand(v, params) if isinstance(v, str) else v for k, v in (step.get("parameters") or {}).items()}
            values = {n: s.get("default") for n, s in declared_parameters(target).items()} | given
            out += _steps(target, load(target)["steps"], values)
        else:
            out.append({k: expand(v, params) if isinstance(v, str) else v for k, v in step.items()})
    return out


def _run_on_paper(pipeline: str, outputs: dict[str, str], failing: frozenset[str] = frozenset(),
                  rebuilds: bool = False) -> dict[str, Any]:
    """Walk the pipeline's jobs in order as Azure would: evaluate each condition and `strategy: matrix`
    runtime expression against the Plan job's outputs, expand every leg's steps with its matrix variables,
    and collect what each leg's `lifecycle publish` is asked to build (`rebuilds`: an image may be built by
    several legs, as `--mode split` does; `built` then keeps every place)."""
    from lifecycle.cli import cli
    from tests.unit.pipelineexpr import Context, condition, environment, macros, runtime

    path = REPO / pipeline
    results: dict[str, str] = {"Plan": "Succeeded"}
    ancestors: dict[str, set[str]] = {"Plan": set()}
    built: dict[str, tuple[str, str, int]] = {}
    everywhere: dict[str, list[tuple[str, str, int]]] = {}
    required: dict[tuple[str, str], str] = {}
    legs_per_job: dict[str, dict[str, dict[str, str]]] = {}
    steps_run: dict[tuple[str, str], list[str]] = {}
    for job in load(path)["jobs"]:
        name = job["job"]
        if name == "Plan":
            continue
        deps = job.get("dependsOn") or []
        deps = [deps] if isinstance(deps, str) else list(deps)
        assert all(d in results for d in deps), f"{name} depends on a job listed after it: {deps}"
        ancestors[name] = set(deps).union(*(ancestors[d] for d in deps))
        ctx = Context(results, {"Plan": outputs}, depends_on=tuple(deps))
        if not condition(job.get("condition"), ctx):
            results[name] = "Skipped"
            continue
        expression = (job.get("strategy") or {}).get("matrix")
        legs = json.loads(runtime(expression, ctx)) if expression else {"": {}}
        legs_per_job[name] = legs
        for leg, variables in legs.items():
            assert not expression or LEG_NAME.match(leg), leg
            if expression:
                pool = macros(job["pool"]["vmImage"], variables)
                assert pool and "$(" not in pool, f"{name}.{leg}: pool {pool!r}"
            for step in _steps(path, job["steps"], {}):
                if not condition(step.get("condition"), Context(variables=variables)):
                    continue
                steps_run.setdefault((name, leg), []).append(step.get("displayName") or step.get("task") or "")
                script = step.get("bash") or step.get("script")
                for args in lifecycle_invocations(environment(macros(script, variables), variables)) if script else []:
                    assert check_invocation(cli, args) is None, (name, leg, args, check_invocation(cli, args))
                    if args[0] == "publish" and "--images" in args:
                        assert "--no-descendants" in args and "--parents-from" in args, args
                        required[(name, leg)] = args[args.index("--require-parents") + 1]
                        for index, image in enumerate(args[args.index("--images") + 1].split(",")):
                            assert rebuilds or image not in built, f"{image} built twice"
                            built[image] = (name, leg, index)
                            everywhere.setdefault(image, []).append((name, leg, index))
        results[name] = "Failed" if name in failing else "Succeeded"
    return {"results": results, "ancestors": ancestors, "built": built, "legs": legs_per_job, "steps": steps_run,
            "everywhere": everywhere, "required": required}


@pytest.fixture(scope="module")
def fleet_repo(tmp_path_factory) -> Path:
    from tests.fixtures.fleet import upstream_shaped_files
    from tests.fixtures.gitrepo import make_repo

    return make_repo(tmp_path_factory.mktemp("fleet"), upstream_shaped_files())


def test_level_matrix_runs_through_the_publish_pipeline(fleet_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lifecycle matrix --all` on the 250-image fleet, fed to pipelines/publish.yml's own expressions: every
    image is built once, by a leg whose job runs after (dependsOn, transitively) the job of each parent."""
    from lifecycle.catalogue.source import WorkTree
    from lifecycle.catalogue.workspace import Workspace

    outputs = _plan_outputs(fleet_repo, monkeypatch, "--all", "--max-legs", "20")
    assert outputs["matrix.mode"] == "levels" and outputs["matrix.levelCount"] == "5"
    run = _run_on_paper("pipelines/publish.yml", outputs)
    ws = Workspace.load(WorkTree(fleet_repo))
    assert sorted(run["built"]) == sorted(ws.order())
    for image, (job, leg, index) in run["built"].items():
        for parent in ws.parents_of(image):
            pjob, pleg, pindex = run["built"][parent]
            assert pjob in run["ancestors"][job] or (pjob, pleg) == (job, leg) and pindex < index, (parent, image)
    # each leg requires exactly the planned parents that other legs build (a missing record then blocks)
    for (job, leg), value in run["required"].items():
        mine = {i for i, (j, l, _) in run["built"].items() if (j, l) == (job, leg)}
        needed = {p for i in mine for p in ws.parents_of(i)} - mine
        assert set(filter(None, value.split(","))) == needed, (job, leg)
        assert all(run["built"][p][0] in run["ancestors"][job] for p in needed)
    assert any(run["required"].values()) and not any(v for (j, _), v in run["required"].items() if j == "BuildLevel0")
    assert [run["results"][f"BuildLevel{k}"] for k in range(6)] == ["Succeeded"] * 5 + ["Skipped"]
    assert all(len(run["legs"][f"BuildLevel{k}"]) <= 20 for k in range(5))
    assert run["results"]["MoveStaging"] == "Succeeded"
    # the first level downloads no earlier image-info; every later leg does; only non-amd64 legs emulate
    for (job, leg), steps in run["steps"].items():
        if job.startswith("BuildLevel"):
            variables = run["legs"][job][leg]
            assert ("Download the earlier levels' image-info" in steps) == (job != "BuildLevel0")
            assert ("Enable emulation of other CPU architectures" in steps) == (variables["emulation"] == "true")
            assert variables["emulation"] == str(any(not p.startswith("linux/amd64")
                                                     for p in variables["platform"].split(","))).lower()


def test_a_failed_level_does_not_stop_later_levels(fleet_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed leg blocks its own images' descendants (publish reads the failure from its image-info); the
    later level jobs still run for everything else, and staging still moves for what passed."""
    outputs = _plan_outputs(fleet_repo, monkeypatch, "--all")
    run = _run_on_paper("pipelines/publish.yml", outputs, failing=frozenset({"BuildLevel1"}))
    assert [run["results"][f"BuildLevel{k}"] for k in range(5)] == ["Succeeded", "Failed"] + ["Succeeded"] * 3
    assert run["results"]["MoveStaging"] == "Succeeded"


def test_chain_matrix_and_empty_plan_through_the_pipelines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fixtures.catalogs import sample_files
    from tests.fixtures.gitrepo import make_repo

    repo = make_repo(tmp_path, sample_files())
    outputs = _plan_outputs(repo, monkeypatch, "--all", "--mode", "chain")
    for pipeline in ("pipelines/publish.yml", "pipelines/pr.yml"):
        run = _run_on_paper(pipeline, outputs)
        assert {job for job, _, _ in run["built"].values()} == {"BuildLevel0"}
        assert len(run["built"]) == 5
    empty = _plan_outputs(repo, monkeypatch, "--since", "HEAD")
    run = _run_on_paper("pipelines/publish.yml", empty)
    assert run["built"] == {} and run["results"]["BuildLevel0"] == "Skipped"
    assert run["results"]["MoveStaging"] == "Skipped"
    pr = load(REPO / "pipelines/pr.yml")
    assert any("--mode" in i.args and "split" in i.args for i in invocations([REPO / "pipelines/pr.yml"])), \
        "a pull request pushes nothing: its matrix must be one level, each leg with its images' ancestors"
    assert [j["job"] for j in pr["jobs"]] == ["Plan", "BuildLevel0"]


def test_level_jobs_match_the_matrix_levels() -> None:
    from lifecycle.build.matrix import MAX_LEVELS

    jobs = {j["job"]: j for j in load(REPO / "pipelines/publish.yml")["jobs"]}
    levels = sorted(n for n in jobs if n.startswith("BuildLevel"))
    assert levels == [f"BuildLevel{k}" for k in range(MAX_LEVELS)]
    assert set(levels) <= set(jobs["MoveStaging"]["dependsOn"])
    maxima = {int(jobs[n]["strategy"]["maxParallel"]) for n in levels}
    from lifecycle.build.matrix import DEFAULT_MAX_LEGS
    assert maxima == {DEFAULT_MAX_LEGS}, "every leg of a level runs at once: the critical path assumes it"


def test_split_matrix_runs_through_the_pr_pipeline(fleet_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull request pushes nothing: each leg builds the planned ancestors of its images itself, and the wide
    cross family is cut over many legs instead of queueing on one agent."""
    from lifecycle.catalogue.source import WorkTree
    from lifecycle.catalogue.workspace import Workspace

    outputs = _plan_outputs(fleet_repo, monkeypatch, "--all", "--mode", "split")
    assert outputs["matrix.mode"] == "split" and outputs["matrix.levelCount"] == "1"
    run = _run_on_paper("pipelines/pr.yml", outputs, rebuilds=True)
    ws = Workspace.load(WorkTree(fleet_repo))
    assert sorted(run["everywhere"]) == sorted(ws.order())
    legs: dict[str, list[str]] = {}
    for image, places in run["everywhere"].items():
        for job, leg, index in places:
            assert job == "BuildLevel0"
            legs.setdefault(leg, []).append((index, image))
    for leg, members in legs.items():
        order = [image for _, image in sorted(members)]
        for i, image in enumerate(order):
            missing = [p for p in ws.parents_of(image) if p not in order[:i]]
            assert not missing, f"{leg}: {image} needs {missing} built before it in the same leg"
    assert len(legs) <= 20 and max(len(m) for m in legs.values()) <= 20
    builder = "azurelinux-3.0-net10.0-crossdeps-builder-amd64"
    assert len(run["everywhere"][builder]) > 1  # the fan-out's parent is rebuilt by each leg that needs it
