"""Azure Pipelines runtime expressions, evaluated offline: enough of the language to run a pipeline's job
graph on paper (tests/unit/test_pipelines.py, the level matrix).

Supported: `$[ expr ]` runtime expressions, `and or not eq ne in notIn`, the status functions (`succeeded()`,
`failed()`, `canceled()`, `always()`, `succeededOrFailed()`), string literals ('it''s'), `true`/`false`, and the
references `dependencies.JOB.result`, `dependencies.JOB.outputs['STEP.VAR']`, `variables['NAME']`,
`variables.NAME`. Comparisons are case-insensitive, as Azure's are for strings. Anything else raises, so a
pipeline using an expression this does not know fails the test instead of being guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<punct>[(),\[\]]))")
RUNTIME = re.compile(r"^\$\[\s*(.*?)\s*\]$", re.S)
MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)")
ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):-\}")


@dataclass
class Context:
    """What a job's condition sees: its dependencies' results and outputs, and variables."""

    results: dict[str, str] = field(default_factory=dict)               # job -> Succeeded|Failed|Skipped...
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)    # job -> {"step.var": value}
    variables: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    canceled: bool = False


def runtime(text: str, ctx: Context) -> Any:
    """The value of a `$[ ... ]` runtime expression."""
    match = RUNTIME.match(text.strip())
    if not match:
        raise ValueError(f"not a runtime expression: {text!r}")
    return evaluate(match.group(1), ctx)


def condition(text: str | None, ctx: Context) -> bool:
    """A job or step condition; none means `succeeded()`."""
    return truthy(evaluate(text or "succeeded()", ctx))


def macros(text: str, variables: dict[str, str]) -> str:
    """$(name) replaced by the variable's value; an unknown name stays as written (as Azure leaves it)."""
    return MACRO.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def environment(text: str, variables: dict[str, str]) -> str:
    """${NAME:-} in a bash step: the agent exports every variable as NAME (upper case, '.' as '_')."""
    env = {k.upper().replace(".", "_"): v for k, v in variables.items()}
    return ENV.sub(lambda m: env.get(m.group(1), ""), text)


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    return bool(value)


def evaluate(text: str, ctx: Context) -> Any:
    tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in TOKEN.finditer(text)]
    if "".join(t[1] for t in tokens).replace(" ", "") != re.sub(r"\s", "", text):
        raise ValueError(f"cannot tokenise {text!r}")
    value, rest = _expr(tokens, ctx)
    if rest:
        raise ValueError(f"unexpected {rest[0][1]!r} in {text!r}")
    return value


def _expr(tokens: list[tuple[str, str]], ctx: Context) -> tuple[Any, list[tuple[str, str]]]:
    kind, word = tokens[0]
    rest = tokens[1:]
    if kind == "str":
        return word[1:-1].replace("''", "'"), rest
    if kind != "name":
        raise ValueError(f"unexpected {word!r}")
    if word in ("true", "false"):
        return word == "true", rest
    if rest and rest[0][1] == "(":
        args, rest = _args(rest[1:], ctx)
        return _call(word, args, ctx), rest
    return _reference(word, rest, ctx)


def _args(tokens, ctx):
    args: list[Any] = []
    if tokens[0][1] == ")":
        return args, tokens[1:]
    while True:
        value, tokens = _expr(tokens, ctx)
        args.append(value)
        if tokens[0][1] == ")":
            return args, tokens[1:]
        if tokens[0][1] != ",":
            raise ValueError(f"expected , or ) but found {tokens[0][1]!r}")
        tokens = tokens[1:]


def _same(a: Any, b: Any) -> bool:
    return str(a).lower() == str(b).lower() if isinstance(a, str) or isinstance(b, str) else a == b


def _call(name: str, args: list[Any], ctx: Context) -> Any:
    deps = [ctx.results.get(d, "NotRun") for d in ctx.depends_on]
    match name.lower():
        case "and":
            return all(truthy(a) for a in args)
        case "or":
            return any(truthy(a) for a in args)
        case "not":
            return not truthy(args[0])
        case "eq":
            return _same(args[0], args[1])
        case "ne":
            return not _same(args[0], args[1])
        case "in":
            return any(_same(args[0], a) for a in args[1:])
        case "notin":
            return not any(_same(args[0], a) for a in args[1:])
        case "succeeded":
            return not ctx.canceled and all(r in ("Succeeded", "SucceededWithIssues") for r in deps)
        case "failed":
            return not ctx.canceled and any(r == "Failed" for r in deps)
        case "succeededorfailed":
            return not ctx.canceled and all(r in ("Succeeded", "SucceededWithIssues", "Failed") for r in deps)
        case "canceled":
            return ctx.canceled
        case "always":
            return True
    raise ValueError(f"function {name}() is not known to this evaluator")


def _reference(word: str, rest, ctx: Context) -> tuple[Any, list]:
    parts = word.split(".")
    index = None
    if rest and rest[0][1] == "[":
        if len(rest) < 3 or rest[1][0] != "str" or rest[2][1] != "]":
            raise ValueError(f"malformed index after {word}")
        index, rest = rest[1][1][1:-1], rest[3:]
    if parts[0] == "dependencies" and len(parts) == 3:
        job, what = parts[1], parts[2]
        if job not in ctx.depends_on:
            raise ValueError(f"dependencies.{job}: {job} is not in dependsOn {list(ctx.depends_on)}")
        if what == "result" and index is None:
            return ctx.results.get(job, "NotRun"), rest
        if what == "outputs" and index is not None:
            return ctx.outputs.get(job, {}).get(index, ""), rest
    if parts == ["variables"] and index is not None:
        return ctx.variables.get(index, ""), rest
    if parts[0] == "variables" and len(parts) == 2 and index is None:
        return ctx.variables.get(parts[1], ""), rest
    raise ValueError(f"reference {word}{f'[{index!r}]' if index else ''} is not known to this evaluator")
