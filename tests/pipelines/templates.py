"""A pipeline file and its step templates expanded into stages, jobs and steps, the way Azure compiles it
before the run: `${{ parameters.x }}` substituted (a whole-value expression keeps the parameter's type),
parameters checked against the template's declarations. Template expressions the files do not use
(`${{ if }}`, `${{ each }}`, anything but a parameter) raise HarnessError naming the file and place.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.pipelines.model import HarnessError, Job, Pipeline, Stage, Step
from tests.unit.pipelinecheck import declared_parameters, load, resolve_template

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PARAM = re.compile(r"^parameters\.([A-Za-z_][A-Za-z0-9_]*)$")
STEP_KINDS = ("script", "bash", "task", "checkout", "publish", "download")


def load_pipeline(path: Path) -> Pipeline:
    doc = load(path) or {}
    if "parameters" in doc:
        raise HarnessError(f"{path}: runtime parameters of the pipeline itself are not modelled")
    variables = _variables(doc.get("variables"), str(path))
    if "stages" in doc:
        stages, previous = [], None
        for raw in doc["stages"]:
            # a stage without dependsOn depends on the one before it (jobs do not)
            default = (previous,) if previous else ()
            depends = _names(raw.get("dependsOn"), default)
            stages.append(Stage(raw["stage"], _jobs(path, raw["jobs"], raw["stage"]), depends, raw.get("condition")))
            previous = raw["stage"]
    else:
        stages = [Stage("__default", _jobs(path, doc.get("jobs") or [], "__default"))]
    return Pipeline(path, stages, variables)


def _names(value: Any, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    if value is None:
        return default
    return (value,) if isinstance(value, str) else tuple(value)


def _variables(value: Any, where: str) -> dict[str, str]:
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    found = {}
    for item in value:
        if "name" not in item:
            raise HarnessError(f"{where}: variable groups and variable templates are not modelled: {item}")
        found[item["name"]] = str(item.get("value", ""))
    return found


def _jobs(path: Path, raws: list[dict[str, Any]], stage: str) -> list[Job]:
    jobs = []
    for i, raw in enumerate(raws):
        where = f"{path} {stage}.jobs[{i}]"
        if "template" in raw:
            raise HarnessError(f"{where}: job templates are not modelled")
        deployment = "deployment" in raw
        name = raw["deployment"] if deployment else raw["job"]
        strategy = raw.get("strategy") or {}
        if deployment:
            if set(strategy) != {"runOnce"} or set(strategy["runOnce"]) != {"deploy"}:
                raise HarnessError(f"{where}: only the runOnce strategy with a deploy hook is modelled")
            steps_raw = strategy["runOnce"]["deploy"]["steps"]
        else:
            steps_raw = raw.get("steps") or []
        pool = raw.get("pool") or {}
        env = raw.get("environment")
        jobs.append(Job(
            name=name, stage=stage, steps=expand_steps(path, steps_raw, where),
            depends_on=_names(raw.get("dependsOn")), condition=raw.get("condition"),
            matrix=None if deployment else strategy.get("matrix"),
            variables=_variables(raw.get("variables"), where),
            vm_image=pool.get("vmImage") if isinstance(pool, dict) else None,
            environment=(env.get("name") if isinstance(env, dict) else env) if deployment else None,
            deployment=deployment))
    return jobs


def expand_steps(includer: Path, raws: list[Any], where: str) -> list[Step]:
    steps: list[Step] = []
    for i, raw in enumerate(raws):
        here = f"{where}.steps[{i}]"
        if "template" in raw:
            target = resolve_template(includer, raw["template"]).resolve()
            if not target.is_file():
                raise HarnessError(f"{here}: template {raw['template']} not found ({target})")
            params = _parameters(target, raw.get("parameters") or {}, here)
            doc = substitute(load(target) or {}, params, str(target))
            steps += expand_steps(target, doc.get("steps") or [], f"{target.name}")
            continue
        kinds = [k for k in STEP_KINDS if k in raw]
        if len(kinds) != 1:
            raise HarnessError(f"{here}: not a step this harness knows: {sorted(raw)}")
        body = dict(raw)
        if "${{" in repr(body):
            raise HarnessError(f"{here}: template expression in a pipeline file: {body}")
        kind = "script" if kinds[0] == "bash" else kinds[0]
        if kinds[0] == "bash":
            body["script"] = body.pop("bash")
        steps.append(Step(kind, body, f"{includer.name} {here}"))
    return steps


def _parameters(template: Path, passed: dict[str, Any], where: str) -> dict[str, Any]:
    declared = declared_parameters(template)
    values = {}
    for name, value in passed.items():
        spec = declared.get(name)
        if spec is None:
            raise HarnessError(f"{where}: parameter {name!r} is not declared by {template.name}")
        if spec.get("values") and value not in spec["values"]:
            raise HarnessError(f"{where}: parameter {name}={value!r} is not one of {spec['values']}")
        values[name] = value
    for name, spec in declared.items():
        if name not in values:
            if "default" not in spec:
                raise HarnessError(f"{where}: required parameter {name!r} of {template.name} is not passed")
            values[name] = spec["default"]
    return values


def substitute(node: Any, params: dict[str, Any], where: str) -> Any:
    """`${{ parameters.x }}` in every value; a key that is an expression (`${{ if }}`, `${{ each }}`) raises."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if str(key).lstrip().startswith("${{"):
                raise HarnessError(f"{where}: conditional or each insertion {key!r} is not modelled")
            if key == "parameters" and isinstance(value, list):
                continue  # the template's declarations, not a value
            out[key] = substitute(value, params, where)
        return out
    if isinstance(node, list):
        return [substitute(v, params, where) for v in node]
    if isinstance(node, str) and "${{" in node:
        whole = EXPR.fullmatch(node.strip())
        if whole:
            return _parameter(whole.group(1), params, where)
        return EXPR.sub(lambda m: str(_parameter(m.group(1), params, where)), node)
    return node


def _parameter(expr: str, params: dict[str, Any], where: str) -> Any:
    match = PARAM.match(expr)
    if not match:
        raise HarnessError(f"{where}: template expression ${{{{ {expr} }}}} is not modelled (only parameters.x)")
    if match.group(1) not in params:
        raise HarnessError(f"{where}: ${{{{ {expr} }}}}: no such parameter (declared: {sorted(params)})")
    return params[match.group(1)]
