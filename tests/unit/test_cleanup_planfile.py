"""The cleanup plan file check (no registry): every plan `decide` writes passes; every wrong type, missing
or unknown field, and every disagreement between `deletions` and `tags`, is named at its line and column.
The same cases against a real registry (exit 2, nothing deleted) are in tests/e2e/test_cleanup_plan_checks.py."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from lifecycle.cleanup.rules import CleanupPlan
from lifecycle.cleanup.planfile import field_path, json_positions
from lifecycle.errors import InputError
from tests.unit.test_cleanup_rules import APP, Repo, catalog, image, imm, index, policy


def written_plan(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A plan with every kind of entry: deletions with and without children, retired, floating, other."""
    repo = Repo()
    kids = [repo.push(None, image(f"kid{i}")) for i in range(2)]
    repo.push(imm(APP, 400, 1), index([repo.manifests[k] for k in kids]))
    for i in range(2, 5):
        repo.push(imm(APP, 400 - i, i), image(f"old{i}"))
    latest = repo.push(imm(APP, 1, 9), image("new"))
    repo.tags[f"{APP}-latest"] = latest
    repo.push(imm("gone-1.0-amd64", 300), image("gone"))
    repo.push("somebody-elses-tag", image("other"))
    plan = repo.plan(cat=catalog(APP), pol=policy(keep_last=1))
    assert len(plan.deletions) == 5 and any(x.children for x in plan.deletions)
    path = tmp_path / "plan.json"
    plan.write(path)
    return path, json.loads(path.read_text())


def test_every_plan_decide_writes_passes_and_round_trips(tmp_path):
    path, data = written_plan(tmp_path)
    again = CleanupPlan.load(path)
    assert again.to_dict() == data
    assert {d["kind"] for d in data["tags"]} == {"immutable", "floating", "retired", "other"}


def errors(tmp_path: Path, data: dict[str, Any], indent: int | None = 2) -> list[str]:
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data, indent=indent))
    with pytest.raises(InputError) as caught:
        CleanupPlan.load(path)
    assert caught.value.location is not None and caught.value.location.file == str(path)
    assert "nothing was deleted" in str(caught.value) or "version 1" in str(caught.value)
    return caught.value.problems


def place(problem: str, path: Path) -> str:
    """The text at the line:column a problem names."""
    m = re.match(rf"{re.escape(str(path))}:(\d+):(\d+): ", problem)
    assert m, problem
    return path.read_text().splitlines()[int(m.group(1)) - 1][int(m.group(2)) - 1:]


@pytest.mark.parametrize("keys,value,expected,at", [
    (["deletions", 0, "children"], None, "deletions[0].children: null is not an array", '"children"'),
    (["deletions", 0, "digest"], None, "deletions[0].digest: null is not a string", '"digest"'),
    (["deletions", 0, "digest"], "sha256:1234", 'deletions[0].digest: "sha256:1234" is not a digest (sha256:<64 '
                                                'hex>)', '"digest"'),
    (["totals"], "x", 'totals: "x" is not an object', '"totals"'),
    (["totals", "bytesToFree"], "lots", 'totals.bytesToFree: "lots" is not an integer', '"bytesToFree"'),
    (["totals", "tags"], -1, "totals.tags: -1 is below 0", '"tags"'),
    (["tags", 3, "action"], "remove", 'tags[3].action: "remove" is not one of "keep", "delete"', '"action"'),
    (["tags", 0, "built_at"], "yesterday", 'tags[0].built_at: "yesterday" is not an ISO 8601 UTC time '
                                           '(2026-11-28T03:00:00Z)', '"built_at"'),
    (["now"], None, "now: null is not a string", '"now"'),
    (["deletions", 1, "tags"], [], "deletions[1].tags: must list at least 1 item(s)", '"tags"'),
    (["policy", "keepLast"], 1.5, "policy.keepLast: 1.5 is not an integer", '"keepLast"'),
    (["deletions", 2, "note"], "spare", "deletions[2].note: unknown field (allowed: built_at, children, digest, "
                                        "tags)", '"note"'),
    (["registry"], 5, "registry: 5 is not a string", '"registry"'),
])
def test_a_wrong_field_is_named_at_its_place(tmp_path, keys, value, expected, at):
    _, data = written_plan(tmp_path)
    node = data
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    problems = errors(tmp_path, data)
    assert len(problems) == 1, problems
    assert problems[0].endswith(": " + expected), problems
    assert place(problems[0], tmp_path / "edited.json").startswith(at)


def test_missing_fields_are_named_at_their_entry_and_all_problems_are_listed(tmp_path):
    _, data = written_plan(tmp_path)
    del data["deletions"][1]["tags"]
    del data["tags"][2]["reason"]
    del data["now"]
    problems = errors(tmp_path, data)
    assert [p.split(": ", 1)[1] for p in problems] == ["deletions[1].tags: missing", "now: missing",
                                                       "tags[2].reason: missing"]
    assert place(problems[0], tmp_path / "edited.json").startswith("{")
    assert place(problems[1], tmp_path / "edited.json").startswith("{")       # the top level
    assert problems[1].startswith(f"{tmp_path / 'edited.json'}:1:1: ")


def test_a_compact_plan_gets_columns(tmp_path):
    _, data = written_plan(tmp_path)
    data["deletions"][0]["children"] = None
    (problem,) = errors(tmp_path, data, indent=None)
    assert place(problem, tmp_path / "edited.json").startswith('"children": null')


def test_deletions_must_agree_with_the_decisions(tmp_path):
    _, data = written_plan(tmp_path)
    original = copy.deepcopy(data)
    first = data["deletions"][0]
    at = next(i for i, d in enumerate(data["tags"]) if d["tag"] == first["tags"][0])
    data["tags"][at]["action"] = "keep"
    data["deletions"].append(copy.deepcopy(data["deletions"][1]))
    data["deletions"][2]["tags"].append("never-listed")
    latest = next(d["digest"] for d in data["tags"] if d["tag"] == f"{APP}-latest")
    data["deletions"][3]["digest"] = latest                                # a kept digest
    tag3 = original["deletions"][3]["tags"][0]
    at3 = next(i for i, d in enumerate(data["tags"]) if d["tag"] == tag3)
    problems = [p.split(": ", 1)[1] for p in errors(tmp_path, data)]
    assert problems == [
        f"deletions[0].tags[0]: {first['tags'][0]} is a 'keep' decision in tags[{at}], not 'delete'",
        "deletions[2].tags[1]: never-listed has no decision in tags",
        f"deletions[3].tags[0]: {tag3} is on {original['deletions'][3]['digest']} in tags[{at3}], not on {latest}",
        f"deletions[5].digest: {original['deletions'][1]['digest']} is also deletions[1]",
    ]


def test_removing_deletions_is_a_valid_edit(tmp_path):
    path, data = written_plan(tmp_path)
    del data["deletions"][1:3]
    path.write_text(json.dumps(data, indent=2))
    assert len(CleanupPlan.load(path).deletions) == 3


@pytest.mark.parametrize("text,needle", [
    ('{"version": 2}', "version 1 (version: 2)"),
    ('{"kind": "rollout"}', "version 1 (version: missing)"),
    ("[]", "top level must be a JSON object"),
])
def test_not_a_plan_at_all(tmp_path, text, needle):
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(InputError, match=re.escape(needle)):
        CleanupPlan.load(path)


def test_positions_and_field_paths():
    text = '{\n  "a": [1, {"b\\"x": "\\u00e9\\\\"}, [true, null]],\n  "c": -1.5e3\n}'
    places = json_positions(text)
    assert text[places[("a",)]:].startswith('"a"')
    assert text[places[("a", 0)]:].startswith("1,")
    assert text[places[("a", 1, 'b"x')]:].startswith('"b\\"x"')
    assert text[places[("a", 2, 1)]:].startswith("null")
    assert text[places[("c",)]:].startswith('"c"')
    assert field_path(["deletions", 0, "children", 2]) == "deletions[0].children[2]"
    assert field_path([]) == "top level"
