"""A clone stands alone: no file of the repository refers to a path outside it.

Every file git would commit (tracked, or new and not ignored) is checked, with rules that know what a
path means where it appears, so that legitimate text (a consumer checkout `../runtime` in a config
example, `/root` inside a container command) is not reported:

- Python: a path built from `__file__` (`.parent`, `.parents[n]`, `/ ".."`, through module-level names
  such as `REPO = Path(__file__).resolve().parents[2]`) that climbs above the repository root;
- shell: `$(dirname "${BASH_SOURCE[0]}")/..` or `$REPO/..` climbing above the repository root;
- Markdown: a link target, or an inline-code path starting with `./` or `../`, is relative to the page
  and must name a file or folder of the repository;
- any text: a leading `../../...` with more `..` than the file's folder is deep (outside whatever it is
  relative to), or an absolute path into a user's or this machine's folders (a home folder under
  `/home` or `/Users`, the machines' `/work` folder, the clone's own absolute path and the folder
  around it).
"""

from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

REPO = Path(__file__).resolve().parents[2]

# Absolute paths that only exist on someone's machine. Container paths (/root, /tmp, /opt, /etc) are
# legitimate in Dockerfiles and image commands and are not listed.
MACHINE_PATH = re.compile(r"(?<![\w.$}/-])(/(?:(?:home|Users)/[A-Za-z0-9_.-]+|work)/|[A-Za-z]:\\Users\\)")
LEADING_UP = re.compile(r"(?<![\w./$}-])((?:\.\./)+)[\w.-][^\s'\"`)\]]*")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
MD_CODE = re.compile(r"`(\.\.?/[^`\s]+)`")
SH_UP = re.compile(r"""\$\(dirname\s+"?\$\{?(?:BASH_SOURCE(?:\[0\])?|0)\}?"?\)((?:/\.\.)+)|\$\{?REPO\}?((?:/\.\.)+)""")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r}: {self.why}"


def repo_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, check=True, capture_output=True).stdout
    return sorted({p for p in out.decode().split("\0") if p and (REPO / p).is_file()})


def depth(rel: str) -> int:
    """How many folders the file is below the repository root."""
    return len(PurePosixPath(rel).parts) - 1


def inside(rel_dir: str, target: str, known: set[str]) -> bool:
    """`target` relative to `rel_dir` names a file or folder of the repository."""
    parts: list[str] = [p for p in PurePosixPath(rel_dir).parts if p not in ("", ".")]
    for part in PurePosixPath(target).parts:
        if part == "..":
            if not parts:
                return False
            parts.pop()
        elif part != ".":
            parts.append(part)
    name = "/".join(parts)
    return name == "" or name in known or any(k.startswith(name + "/") for k in known)


# ---------------------------------------------------------------------------------------------- rules

def text_findings(rel: str, text: str, machine_paths: tuple[str, ...]) -> list[Finding]:
    found: list[Finding] = []
    for no, line in enumerate(text.splitlines(), 1):
        for m in MACHINE_PATH.finditer(line):
            found.append(Finding(rel, no, m.group(1), "absolute path on a machine, outside the repository"))
        for root in machine_paths:
            if root in line:
                found.append(Finding(rel, no, root, "absolute path of this clone or the folder around it"))
        for m in LEADING_UP.finditer(line):
            ups = m.group(1).count("../")
            if ups > depth(rel):
                found.append(Finding(rel, no, m.group(0), f"{ups} levels up from a file {depth(rel)} deep"))
    return found


def markdown_findings(rel: str, text: str, known: set[str]) -> list[Finding]:
    found: list[Finding] = []
    here = str(PurePosixPath(rel).parent)
    for no, line in enumerate(text.splitlines(), 1):
        targets = [m.group(1) for m in MD_LINK.finditer(line)] + [m.group(1) for m in MD_CODE.finditer(line)]
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
                continue    # a URL, a mail address, an anchor; absolute paths are the text rule's
            path = target.split("#", 1)[0]
            if path and not inside(here, path, known):
                found.append(Finding(rel, no, target, "relative to the page, it is not in the repository"))
    return found


def shell_findings(rel: str, text: str) -> list[Finding]:
    found: list[Finding] = []
    for no, line in enumerate(text.splitlines(), 1):
        for m in SH_UP.finditer(line):
            if m.group(1) is not None:
                ups = m.group(1).count("/..")
                if ups > depth(rel):
                    found.append(Finding(rel, no, m.group(0), f"{ups} levels up from a script {depth(rel)} deep"))
            else:
                found.append(Finding(rel, no, m.group(0), "above the repository root"))
    return found


def _level(node: ast.expr, rel: str, names: dict[str, int]) -> int | None:
    """Folder level (0 = repository root) of a path expression anchored at `__file__`, else None."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("Path", "PurePath", "PurePosixPath") and len(node.args) == 1:
            a = node.args[0]
            if isinstance(a, ast.Name) and a.id == "__file__":
                return depth(rel) + 1    # the file itself: one `.parent` below its folder
            return _level(a, rel, names)
        if isinstance(f, ast.Attribute) and f.attr in ("resolve", "absolute"):
            return _level(f.value, rel, names)
        if isinstance(f, ast.Attribute) and f.attr == "dirname" and len(node.args) == 1:
            inner = node.args[0]
            if isinstance(inner, ast.Name) and inner.id == "__file__":
                return depth(rel)
            lv = _level(inner, rel, names)
            return None if lv is None else lv - 1
        return None
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        lv = _level(node.value, rel, names)
        return None if lv is None else lv - 1
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents":
        lv = _level(node.value.value, rel, names)
        idx = node.slice
        if lv is None or not (isinstance(idx, ast.Constant) and isinstance(idx.value, int)):
            return None
        return lv - idx.value - 1
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        lv = _level(node.left, rel, names)
        if lv is None:
            return None
        right = node.right
        if isinstance(right, ast.Constant) and isinstance(right.value, str):
            low = lv
            for part in PurePosixPath(right.value).parts:
                lv = lv - 1 if part == ".." else lv if part == "." else lv + 1
                low = min(low, lv)
            return lv if low >= 0 else low
        return lv + 1    # a name we cannot read: at least it does not climb
    return None


def python_findings(rel: str, text: str) -> list[Finding]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    names: dict[str, int] = {}
    for stmt in tree.body:    # module-level constants such as REPO = Path(__file__).resolve().parents[2]
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            lv = _level(stmt.value, rel, names)
            if lv is not None:
                names[stmt.targets[0].id] = lv
    found: list[Finding] = []
    seen: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.expr) and not isinstance(node, ast.Name) and id(node) not in seen:
            lv = _level(node, rel, names)
            if lv is not None and lv < 0:
                for sub in ast.walk(node):    # report the outermost expression once
                    seen.add(id(sub))
                found.append(Finding(rel, node.lineno, ast.unparse(node),
                                     f"{-lv} level(s) above the repository root"))
    return found


def findings(files: dict[str, str], machine_paths: tuple[str, ...] = ()) -> list[Finding]:
    known = set(files)
    out: list[Finding] = []
    for rel, text in sorted(files.items()):
        out += text_findings(rel, text, machine_paths)
        if rel.endswith(".md"):
            out += markdown_findings(rel, text, known)
        if rel.endswith(".sh") or text.startswith("#!/usr/bin/env bash") or text.startswith("#!/bin/"):
            out += shell_findings(rel, text)
        if rel.endswith(".py"):
            out += python_findings(rel, text)
    once: dict[tuple[str, int], Finding] = {}
    for f in out:    # two rules seeing the same path on a line: one report
        once.setdefault((f.path, f.line), f)
    return list(once.values())


def this_machine() -> tuple[str, ...]:
    """The clone's absolute path and the folder around it (where a sibling folder of notes would be),
    unless that folder is a system one that legitimate text names (/, /tmp, /home)."""
    paths = [str(REPO)]
    parent = PurePosixPath(str(REPO)).parent    # text to look for, never read (str() keeps the rule quiet)
    if len(parent.parts) > 2:
        paths.append(str(parent) + "/")
    return tuple(paths)


def read_all() -> dict[str, str]:
    files: dict[str, str] = {}
    for rel in repo_files():
        raw = (REPO / rel).read_bytes()
        if b"\0" not in raw:
            files[rel] = raw.decode("utf-8", errors="replace")
    return files


# =============================================================================================== tests

def test_no_file_refers_outside_the_repository() -> None:
    files = read_all()
    assert "tests/unit/pipelinecheck.py" in files and "docs/architecture.md" in files
    problems = findings(files, this_machine())
    assert not problems, "paths outside the repository:\n" + "\n".join(map(str, problems))


def test_the_schema_the_pipelines_need_is_in_the_repository() -> None:
    schema = REPO / "eng" / "schemas" / "azure-pipelines" / "service-schema.json"
    assert schema.is_file() and (schema.parent / "LICENSE").is_file()
    readme = (schema.parent / "README.md").read_text(encoding="utf-8")
    version = re.search(r'"\$comment":\s*"(v[0-9.]+)"', schema.read_text(encoding="utf-8")[:2000])
    assert version and f"`{version.group(1)}`" in readme, "the README names the schema's version"
    assert "MIT License" in (schema.parent / "LICENSE").read_text(encoding="utf-8")


def test_the_stray_wheel_is_gone() -> None:
    assert not [f for f in repo_files() if f.endswith((".whl", ".egg", ".tar.gz"))]


UP = ".."    # written apart so that this file does not hold the paths it looks for


@pytest.mark.parametrize("rel,text,expected", [
    # what this repository used to hold
    ("tests/unit/pipelinecheck.py",
     'from pathlib import Path\nSCHEMA = Path(__file__).resolve().parents[2].parent / "notes" / "s.json"\n', 2),
    ("tests/unit/x.py", 'from pathlib import Path\nREPO = Path(__file__).resolve().parents[2]\n'
                        'S = REPO / "' + UP + '/notes/s.json"\n', 3),
    ("tests/unit/x.py", 'import os\nD = os.path.dirname(os.path.dirname(os.path.dirname('
                        'os.path.dirname(__file__))))\n', 2),
    ("docs/architecture.md", "The design is `" + UP + "/notes/design.md` (kept beside it).\n", 1),
    ("docs/a.md", "See [the design](" + UP + "/" + UP + "/notes/design.md).\n", 1),
    ("eng/x.sh", '#!/usr/bin/env bash\nS=$(cd "$(dirname "${BASH_SOURCE[0]}")/' + UP + '/' + UP + '" && pwd)\n', 2),
    ("eng/x.sh", '#!/usr/bin/env bash\ncat "$REPO/' + UP + '/notes/s.json"\n', 2),
    ("tests/unit/y.py", 'SCHEMA = "/' + 'work/notes/azure-pipelines/service-schema.json"\n', 1),
    ("docs/b.md", "Copy it from /" + "home/alice/src/schema.json.\n", 1),
])
def test_a_path_outside_is_found_with_its_line(rel: str, text: str, expected: int) -> None:
    got = findings({"docs/cli.md": "", "README.md": "", rel: text})
    assert [(f.path, f.line) for f in got] == [(rel, expected)], got


@pytest.mark.parametrize("rel,text", [
    ("tests/unit/pipelinecheck.py", 'from pathlib import Path\nREPO = Path(__file__).resolve().parents[2]\n'
                                    'S = REPO / "eng" / "schemas" / "s.json"\nT = Path(__file__).parent / "' + UP
                                    + '/' + UP + '/docs"\n'),
    ("docs/consumers.md", "```yaml\n    path: " + UP + "/runtime   # relative to the GitOps root\n```\n"),
    ("docs/operations.md", "The branch model is in [branches.md](" + UP + "/branches.md).\n"),
    ("manifests/images.yml", "# yaml-language-server: $schema=" + UP + "/scripts/lifecycle/schemas/x.json\n"),
    ("eng/common.sh", '#!/usr/bin/env bash\nREPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/' + UP + '" && pwd)\n'),
    ("scripts/lifecycle/build/localbase.py", 'CMD = "mkdir -p /tmp /root /etc /opt/bundle"\n'),
    ("tests/unit/t.py", 'CONFIG = "  - name: product\\n    path: ' + UP + '/consumer\\n"\n'),
    ("docs/c.md", "See <https://github.com/microsoft/azure-pipelines-vscode> and [x](#anchor).\n"),
])
def test_legitimate_text_is_not_reported(rel: str, text: str) -> None:
    files = {rel: text, "branches.md": "", "scripts/lifecycle/schemas/x.json": "{}", "docs/x.md": ""}
    assert findings(files) == []
