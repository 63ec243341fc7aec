"""A reviewed cleanup plan against the real registry: a bad plan file deletes nothing (exit 2, naming the
file, the entry and the field), and protection is re-checked right before each delete, so that a floating
tag moved onto a doomed digest (or onto an index naming it) while the apply runs stops that delete."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from lifecycle.cleanup.rules import CleanupPlan, Usage
from lifecycle.cleanup.registry import apply_plan, load_manifests
from lifecycle.registry import ANONYMOUS, RegistryClient
from tests.e2e.test_cleanup import APP, DOCKERFILES, NOW, UTC, imm
from tests.fixtures.images import push_image, push_index, push_multiplatform
from tests.fixtures.lifecycle_repo import gitops_repo, policy_yaml, run_cli
from tests.fixtures.registry import TEST_RETRY

pytestmark = pytest.mark.e2e

OLD = [dt.datetime(2024, month, 1, tzinfo=UTC) for month in (1, 2, 3, 4)]   # past the 180-day retention
RECENT = dt.datetime(2026, 11, 1, tzinfo=UTC)


def contents(client: RegistryClient, repo: str) -> dict[str, str]:
    """tag -> digest, the registry as it is (what 'unchanged' is compared on)."""
    return client.resolve_many(repo, client.tags(repo))  # type: ignore[return-value]


@pytest.fixture
def planned(registry, unique_repo, tmp_path, capsys):
    """Four old builds (one an index with two children) and a recent one with -latest; keepLast 1, so
    the plan deletes the four old digests, oldest first. Returns (client, gitops repo, plan file, digests)."""
    client = registry.client()
    digests = [push_image(client, unique_repo, imm(APP, when), created=when, labels={"n": str(i)})
               for i, when in enumerate(OLD[:3])]
    index, children = push_multiplatform(client, unique_repo, imm(APP, OLD[3]), created=OLD[3])
    digests.append(index)
    recent = push_image(client, unique_repo, imm(APP, RECENT), created=RECENT)
    client.retag(unique_repo, recent, f"{APP}-latest")
    repo = gitops_repo(tmp_path, registry.host, unique_repo, DOCKERFILES, policy=policy_yaml(keep_last=1))
    plan_file = tmp_path / "plan.json"
    code, _, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--now", NOW.isoformat(),
                           "--plan-file", str(plan_file))
    assert code == 0, err
    assert [x["digest"] for x in json.loads(plan_file.read_text())["deletions"]] == digests
    yield client, repo, plan_file, {"old": digests, "children": sorted(children.values()), "recent": recent}
    client.close()


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def set_in(keys: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


def drop(keys: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return change


@pytest.mark.parametrize("change,field,what,shown_at", [
    (set_in(["deletions", 0, "children"], None), "deletions[0].children", "null is not an array", '"children": null'),
    (set_in(["deletions", 0, "digest"], None), "deletions[0].digest", "null is not a string", '"digest": null'),
    (set_in(["totals"], "x"), "totals", '"x" is not an object', '"totals": "x"'),
    (set_in(["totals", "bytesToFree"], "lots"), "totals.bytesToFree", '"lots" is not an integer',
     '"bytesToFree": "lots"'),
    (drop(["deletions", 1, "tags"]), "deletions[1].tags", "missing", "{"),   # the entry's line
    (set_in(["deletions", 2, "reviewedBy"], "me"), "deletions[2].reviewedBy", "unknown field", '"reviewedBy"'),
    (set_in(["deletions", 3, "children", 0], "sha256:abc"), "deletions[3].children[0]",
     '"sha256:abc" is not a digest', '"sha256:abc"'),
    (set_in(["tags", 0, "candidate"], "yes"), "tags[0].candidate", '"yes" is not true or false', '"candidate"'),
], ids=["children-null", "digest-null", "totals-string", "bytes-string", "missing", "unknown", "bad-child",
        "bool-string"])
def test_a_bad_plan_file_exits_2_naming_entry_and_field_and_deletes_nothing(planned, capsys, change, field, what,
                                                                             shown_at):
    client, repo, plan_file, digests = planned
    name = json.loads(plan_file.read_text())["repository"]
    before = contents(client, name)
    edit(plan_file, change)
    code, out, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--from-plan", str(plan_file), "--apply")
    assert code == 2, err
    found = re.search(rf"{re.escape(str(plan_file))}:(\d+):(\d+): {re.escape(field)}: {re.escape(what)}", err)
    assert found, err
    line, column = int(found.group(1)), int(found.group(2))
    assert plan_file.read_text().splitlines()[line - 1][column - 1:].startswith(shown_at)
    assert "Traceback" not in err + out
    assert contents(client, name) == before
    for digest in digests["old"] + digests["children"]:
        assert client.resolve(name, digest) == digest, "a bad plan deleted something"


def test_a_deletion_whose_tag_the_plan_keeps_is_refused(planned, capsys):
    client, repo, plan_file, digests = planned
    plan = json.loads(plan_file.read_text())
    doomed_tag = plan["deletions"][0]["tags"][0]
    at = next(i for i, t in enumerate(plan["tags"]) if t["tag"] == doomed_tag)
    edit(plan_file, set_in(["tags", at, "action"], "keep"))
    code, _, err = run_cli(capsys, "cleanup", "--repo", str(repo), "--from-plan", str(plan_file), "--apply")
    assert code == 2
    assert re.search(rf"{re.escape(str(plan_file))}:\d+:\d+: deletions\[0\]\.tags\[0\]: {doomed_tag} is a "
                     rf"'keep' decision in tags\[{at}\]", err), err
    for digest in digests["old"]:
        assert client.resolve(plan["repository"], digest) == digest


class MovesAfterFirstDelete(RegistryClient):
    """A real client whose first successful DELETE is followed, before the apply goes on, by somebody
    else's retag (a rollback running at the same time): `move()` says what moves where."""

    def __init__(self, *args, move: Callable[[], None], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._move: Callable[[], None] | None = move
        self.deleted: list[str] = []

    def delete(self, repo: str, digest: str) -> None:
        super().delete(repo, digest)
        self.deleted.append(digest)
        if self._move is not None:
            move, self._move = self._move, None
            move()


def apply_with_move(registry, repo: Path, plan_file: Path, move: Callable[[], None]):
    catalog, policy = load_manifests(repo)
    plan = CleanupPlan.load(plan_file)
    with MovesAfterFirstDelete(registry.host, credentials=ANONYMOUS, retry=TEST_RETRY, move=move) as client:
        return apply_plan(client, plan, policy, Usage()), client.deleted


def test_latest_moved_onto_a_doomed_digest_during_the_apply_stops_that_delete(planned, registry):
    client, repo, plan_file, digests = planned
    name = json.loads(plan_file.read_text())["repository"]
    old = digests["old"]
    third = old[2]
    outcomes, deleted = apply_with_move(registry, repo, plan_file,
                                        lambda: client.retag(name, third, f"{APP}-latest"))
    assert [o.status for o in outcomes] == ["deleted", "deleted", "skipped", "deleted"]
    assert outcomes[2].detail == f"tag {APP}-latest moved onto it during the apply"
    children = json.loads(plan_file.read_text())["deletions"][3]["children"]
    assert deleted == [old[0], old[1], old[3], *children]     # oldest first, the index's children after it
    assert client.resolve(name, f"{APP}-latest") == third
    assert client.resolve(name, third) == third
    for digest in [old[0], old[1], old[3]] + digests["children"]:
        assert client.try_resolve(name, digest) is None
    assert client.resolve(name, digests["recent"]) == digests["recent"]


def test_latest_moved_onto_an_index_naming_a_doomed_child_keeps_that_child(planned, registry):
    client, repo, plan_file, digests = planned
    name = json.loads(plan_file.read_text())["repository"]
    kept_child, other_child = digests["children"]
    moved_to: list[str] = []

    def move() -> None:   # a new index over one child of the doomed index, and -latest onto it
        index = push_index(client, name, None, [(kept_child, ("linux", "amd64"))])
        client.retag(name, index, f"{APP}-latest")
        moved_to.append(index)

    outcomes, deleted = apply_with_move(registry, repo, plan_file, move)
    assert [o.status for o in outcomes] == ["deleted"] * 4
    assert outcomes[3].detail == (f"child {kept_child} kept: child of index {moved_to[0]}, which tag "
                                  f"{APP}-latest moved onto during the apply")
    assert outcomes[3].children_deleted == 1
    assert kept_child not in deleted and other_child in deleted
    assert client.resolve(name, kept_child) == kept_child
    assert client.try_resolve(name, other_child) is None
    assert client.resolve(name, f"{APP}-latest") == moved_to[0]
    for digest in digests["old"]:
        assert client.try_resolve(name, digest) is None
