"""Offline checks of Azure Pipelines YAML, used by tests/unit/test_pipelines.py.

Loading (every scalar a string, as Azure Pipelines reads YAML), validation against the Azure
Pipelines JSON schema with a readable error, templates and their parameters, `lifecycle ...`
invocations found in bash scripts, and a parse-only check of those invocations with click.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import click
from jsonschema import Draft7Validator
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "eng" / "schemas" / "azure-pipelines" / "service-schema.json"
PIPELINE_DIRS = (REPO / "pipelines", REPO / "eng" / "pipelines")

TEMPLATE_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PARAM_EXPR = re.compile(r"^parameters\.([A-Za-z_][A-Za-z0-9_]*)$")
# Azure macro syntax $(name): replaced by the agent before the shell runs, so one opaque word.
MACRO = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_.]*\)")
# `2>`, `2>&1`: a file-descriptor number glued to a redirection is not an argument.
FD_REDIRECT = re.compile(r"(?<=\s)\d+(?=[<>])")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SEPARATORS = {";", ";;", "&", "&&", "|", "||", "|&", "(", ")"}
SHELL_KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "time", "exec", "command", "{", "}"}


# ---------------------------------------------------------------------------------------------- loading

def pipeline_files() -> list[Path]:
    return sorted(p for d in PIPELINE_DIRS if d.is_dir() for p in d.rglob("*") if p.suffix in (".yml", ".yaml"))


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def load(path: Path) -> Any:
    """All scalars as strings, as Azure Pipelines reads them."""
    return YAML(typ="base").load(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def walk(node: Any, trail: str = "") -> Iterator[tuple[str, Any]]:
    yield trail, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{trail}.{key}" if trail else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{trail}[{i}]")


def insertion_keys(doc: Any) -> list[str]:
    return [f"{trail}: {key}" for trail, node in walk(doc) if isinstance(node, dict)
            for key in node if str(key).lstrip().startswith("${{")]


def schema_problem(path: Path) -> str | None:
    """None when the file is valid; else the best-matching error with its place in the document."""
    doc = load(path)
    keys = insertion_keys(doc)
    if keys:
        return (f"{rel(path)}: insertion keys cannot be validated by the schema and are not used in this "
                f"repository: {keys}")
    errors = list(validator().iter_errors(doc))
    if not errors:
        return None
    leaf = most_specific(errors)
    return f"{rel(path)}: at {leaf.json_path}: {leaf.message[:300]}"


def most_specific(errors: list[Any]) -> Any:
    """The schema answers `not valid under any of the given schemas` for a bad step, job or pipeline
    (every kind of each is an anyOf branch). Follow instead, at each anyOf, the branch the object
    meant: the one that accepts the object's first key (`script:`, `job:`, `task: Docker@2` ...) and
    misses the fewest required keys (a branch for another type is never meant); report the deepest
    failure in it."""
    error = max(errors, key=lambda e: len(e.absolute_path))
    while error.context:
        branches: dict[Any, list[Any]] = {}
        for child in error.context:
            branches.setdefault(child.relative_schema_path[0], []).append(child)
        chosen = min(branches.values(), key=lambda errs: _branch_misfit(error, errs))
        error = max(chosen, key=lambda e: len(e.absolute_path))
    return error


def _branch_misfit(parent: Any, errs: list[Any]) -> tuple[int, int, int, int]:
    """How badly one anyOf branch fits the object: (wrong type, first key rejected, required keys
    missing, failures). A nested anyOf at the same object counts as its best-fitting branch."""
    here = list(parent.absolute_path)
    first = next(iter(parent.instance), None) if isinstance(parent.instance, dict) else None
    wrong_type = rejects_first = missing = count = 0
    for e in errs:
        path = list(e.absolute_path)
        if e.context and path == here:
            nested: dict[Any, list[Any]] = {}
            for child in e.context:
                nested.setdefault(child.relative_schema_path[0], []).append(child)
            best = min((_branch_misfit(e, sub) for sub in nested.values()), default=(0, 0, 0, 0))
            wrong_type, rejects_first = max(wrong_type, best[0]), max(rejects_first, best[1])
            missing, count = missing + best[2], count + best[3]
            continue
        count += 1
        if path == here and e.validator in ("type", "pattern", "enum"):
            wrong_type = 1
        if path == here and e.validator == "required":
            missing += 1
        if first is not None and (path[: len(here) + 1] == here + [first] or (
                e.validator == "additionalProperties" and path == here and repr(first) in e.message)):
            rejects_first = 1
    return wrong_type, rejects_first, missing, count


# ------------------------------------------------------------------------------------------- templates

@dataclass(frozen=True)
class TemplateUse:
    includer: Path
    trail: str
    target: Path
    parameters: dict[str, Any]


def resolve_template(includer: Path, ref: str) -> Path:
    # A leading '/' is relative to the repository root; anything else to the including file.
    return (REPO / ref.lstrip("/")) if ref.startswith("/") else (includer.parent / ref)


def template_uses(path: Path) -> list[TemplateUse]:
    uses = []
    for trail, node in walk(load(path)):
        if isinstance(node, dict) and isinstance(node.get("template"), str):
            params = node.get("parameters") or {}
            uses.append(TemplateUse(path, trail, resolve_template(path, node["template"]).resolve(),
                                    params if isinstance(params, dict) else {}))
    return uses


def declared_parameters(template: Path) -> dict[str, dict[str, Any]]:
    params = (load(template) or {}).get("parameters") or []
    if isinstance(params, dict):  # the legacy form: name -> default
        return {name: {"name": name, "default": default} for name, default in params.items()}
    return {p["name"]: p for p in params}


def parameter_sets(path: Path, all_uses: list[TemplateUse]) -> list[dict[str, Any]]:
    """The parameter values a file is expanded with: its defaults overlaid by each includer's values."""
    declared = declared_parameters(path)
    if not declared:
        return [{}]
    defaults = {name: spec.get("default") for name, spec in declared.items()}
    sets = [{**defaults, **use.parameters} for use in all_uses if use.target == path.resolve()]
    return sets or [defaults]


def expand(text: str, parameters: dict[str, Any]) -> str:
    """Substitute ${{ parameters.x }} with its string value; other expressions stay as opaque words."""
    def one(match: re.Match) -> str:
        name = PARAM_EXPR.match(match.group(1))
        if name and isinstance(parameters.get(name.group(1)), str) and "${{" not in parameters[name.group(1)]:
            return parameters[name.group(1)]
        return "__template_expression__"
    return TEMPLATE_EXPR.sub(one, text)


def template_problems(uses: list[TemplateUse], root: Path) -> list[str]:
    """Missing templates, templates outside `root`, parameters passed but not declared or outside the
    declared `values`, and required parameters (no default) not passed."""
    problems = []
    for use in uses:
        where = f"{rel(use.includer)} {use.trail}"
        if not use.target.is_file():
            problems.append(f"{where}: template {rel(use.target)} does not exist")
            continue
        if root.resolve() not in use.target.parents:
            problems.append(f"{where}: template {use.target} is outside the repository")
            continue
        declared = declared_parameters(use.target)
        for name, value in use.parameters.items():
            spec = declared.get(name)
            if spec is None:
                problems.append(f"{where}: parameter {name!r} is not declared by {rel(use.target)}")
            elif spec.get("values") and "${{" not in str(value) and value not in spec["values"]:
                problems.append(f"{where}: parameter {name!r}={value!r} is not one of {spec['values']}")
        for name, spec in declared.items():
            if "default" not in spec and name not in use.parameters:
                problems.append(f"{where}: required parameter {name!r} of {rel(use.target)} is not passed")
    return problems


# ------------------------------------------------------------------------------------- shell scripts

def lifecycle_invocations(script: str) -> list[list[str]]:
    """The argument lists of every `lifecycle ...` command in a bash script (without the `lifecycle`).

    Handles line continuations, `;`/`&&`/`||`/pipes/subshells/`case` arms, leading variable assignments
    and redirections. Azure macros `$(var)` are kept as single words. Comments are skipped.
    """
    script = script.replace("\\\r\n", " ").replace("\\\n", " ")
    found = []
    for line in script.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        macros: list[str] = []

        def protect(match: re.Match) -> str:
            macros.append(match.group(0))
            return f"@@macro{len(macros) - 1}@@"

        guarded = FD_REDIRECT.sub("", " " + MACRO.sub(protect, _strip_comment(line)))
        lexer = shlex.shlex(guarded, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        try:
            tokens = list(lexer)
        except ValueError as exc:
            raise ValueError(f"cannot split shell line {line!r}: {exc}") from exc
        tokens = [re.sub(r"@@macro(\d+)@@", lambda m: macros[int(m.group(1))], t) for t in tokens]
        for command in _commands(tokens):
            if command and (command[0] == "lifecycle" or command[0].endswith("/lifecycle")):
                found.append(command[1:])
    return found


def _strip_comment(line: str) -> str:
    """Cut an unquoted `#` that starts a word: the rest of the line is a shell comment."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def _commands(tokens: list[str]) -> Iterator[list[str]]:
    command: list[str] = []
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
            continue
        if token in SEPARATORS:
            yield command
            command = []
        elif set(token) <= set("<>&|") and ("<" in token or ">" in token):
            skip_next = True  # the redirection's target
        elif not command and (token in SHELL_KEYWORDS or ASSIGNMENT.match(token)):
            continue
        else:
            command.append(token)
    yield command


@dataclass(frozen=True)
class Invocation:
    file: Path
    trail: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"{rel(self.file)} {self.trail}: lifecycle {shlex.join(self.args)}"


def invocations(files: list[Path] | None = None) -> list[Invocation]:
    files = files if files is not None else pipeline_files()
    uses = [u for f in pipeline_files() for u in template_uses(f)]
    found: dict[Invocation, None] = {}
    for path in files:
        doc = load(path)
        for params in parameter_sets(path, uses):
            for trail, node in walk(doc):
                if not isinstance(node, dict):
                    continue
                for key in ("script", "bash"):
                    if isinstance(node.get(key), str):
                        for args in lifecycle_invocations(expand(node[key], params)):
                            found[Invocation(path, f"{trail}.{key}", tuple(args))] = None
    return list(found)


# --------------------------------------------------------------------------------- the CLI's parser

def _runtime_value(exc: click.BadParameter, args: list[str]) -> bool:
    """A value only known when the pipeline runs: a path that does not exist here, or a macro."""
    param = exc.param
    if param is None:
        return False
    if isinstance(param.type, (click.Path, click.File)):
        return True
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a in getattr(param, "opts", [])]
    values += [a.split("=", 1)[1] for a in args if "=" in a and a.split("=", 1)[0] in getattr(param, "opts", [])]
    return any(MACRO.search(v) or "__template_expression__" in v or "$" in v for v in values)


def check_invocation(root: click.Group, args: list[str], prog: str = "lifecycle") -> str | None:
    """None when `prog args` parses; else what is unknown or wrong. Parses only: nothing is invoked."""
    ctx = click.Context(root, info_name=prog)
    cmd: click.Command = root
    path = [prog]
    rest = list(args)
    while isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = cmd.get_command(ctx, name)
        if sub is None:
            return f"unknown command `{' '.join(path + [name])}`"
        path.append(name)
        cmd = sub
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd, info_name=name, parent=ctx)
    if isinstance(cmd, click.Group) and not rest:
        return f"`{' '.join(path)}` needs a sub-command"
    parent = ctx if cmd is not ctx.command else ctx.parent
    try:
        with cmd.make_context(path[-1], list(rest), parent=parent, resilient_parsing=False):
            pass
    except click.exceptions.Exit as exc:  # --version, --help: eager options that end parsing
        return None if exc.exit_code == 0 else f"`{' '.join(path)}` exits {exc.exit_code}"
    except click.NoSuchOption as exc:
        return f"`{' '.join(path)}`: unknown option {exc.option_name}"
    except click.BadParameter as exc:
        if _runtime_value(exc, rest):
            return None
        return f"`{' '.join(path)}`: {exc.format_message()}"
    except click.UsageError as exc:
        return f"`{' '.join(path)}`: {exc.format_message()}"
    return None
