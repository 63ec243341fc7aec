"""Holds, rollout trees, guards and pushes on real git repositories (bare origin + clones), no registry."""

from __future__ import annotations

import pytest

from lifecycle.errors import InputError, OperationError
from lifecycle.production.gitops import GitOps, PushRejected, compute_holds, merged_definitions
from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO
from tests.fixtures.gitrepo import git

SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"
PARENT_DF = "src/busybox/1.0/amd64/Dockerfile"
SOLO_DIR = "src/busybox/1.0/solo/amd64"
PARENT_DIR = "src/busybox/1.0/amd64"
CATALOG = "manifests/images.yml"


def solo_v(origin, version: str, *, build_arg: bool = True) -> dict[str, str]:
    """SOLO's Dockerfile and (with build_arg) its catalogue entry, at `version`."""
    files = {SOLO_DF: origin.show(origin.initial, SOLO_DF).replace("solo v1", f"solo v{version}")}
    if build_arg:
        catalog = origin.show("main", CATALOG)
        entry = 'tests: ["cat /etc/solo-release"]'
        if "SOLO_VERSION" in catalog:
            catalog = catalog.replace(catalog[catalog.index("buildArgs: {SOLO_VERSION"):].split("\n")[0],
                                      f'buildArgs: {{SOLO_VERSION: "{version}"}}')
        else:
            catalog = catalog.replace(entry, f'buildArgs: {{SOLO_VERSION: "{version}"}}\n    {entry}')
        files[CATALOG] = catalog
    return files


def promote(ops: GitOps, candidate: str) -> str:
    """What a rollout does in git: holds, the tree, the merge commit with parents (production, C), push."""
    ops.fetch()
    production, main = ops.production_head(), ops.main_head()
    promoted = ops.last_promoted(production, main)
    prod_ws, cand_ws = ops.workspace(production), ops.workspace(candidate)
    holds = compute_holds(prod_ws, ops.promoted_definitions(production, main) if promoted else None, cand_ws)
    held = {t: [s.folder for s in (prod_ws.catalog.get(t), cand_ws.catalog.get(t)) if s] for t in holds}
    tree = ops.rollout_tree(production, candidate, held)
    merge = ops.commit_tree(tree, [production, candidate], f"rollout {candidate[:7]}\n")
    ops.push(merge, "production")
    return merge


def holds_now(ops: GitOps, candidate: str | None = None):
    ops.fetch()
    production, main = ops.production_head(), ops.main_head()
    return compute_holds(ops.workspace(production), ops.promoted_definitions(production, main),
                         ops.workspace(candidate or main))


@pytest.fixture
def origin(gitops_origin):
    return gitops_origin()


@pytest.fixture
def ops(origin):
    return GitOps(origin.agent)


def test_first_rollout_merges_main_with_two_parents_and_main_tree(origin, ops):
    c1 = origin.commit(solo_v(origin, "2"), "solo v2")
    merge = promote(ops, c1)
    assert origin.head("production") == merge
    assert origin.parents(merge) == [origin.initial, c1]
    assert origin.tree(merge) == origin.tree(c1)
    ops.fetch()
    assert ops.last_promoted(ops.production_head(), ops.main_head()) == c1


def test_reverted_image_is_held_until_main_fixes_it(origin, ops):
    c1 = origin.commit(solo_v(origin, "2"), "solo v2")
    merge = promote(ops, c1)
    origin.revert_on_production(merge)
    assert origin.show("production", SOLO_DF) == origin.show(origin.initial, SOLO_DF)

    # main moves on elsewhere: SOLO stays held, PARENT (and its descendants) are promoted
    c2 = origin.commit({PARENT_DF: origin.show(c1, PARENT_DF).replace("parent v1", "parent v2"),
                        "README.md": "moved on\n"}, "parent v2")
    holds = holds_now(ops)
    assert set(holds) == {SOLO}
    assert "reverted on production" in holds[SOLO].reason
    merge2 = promote(ops, c2)
    assert origin.tree(merge2, SOLO_DIR) == origin.tree(origin.initial, SOLO_DIR)
    assert origin.tree(merge2, PARENT_DIR) == origin.tree(c2, PARENT_DIR)
    assert origin.show(merge2, "README.md") == "moved on\n"
    catalog = origin.show(merge2, CATALOG)
    assert "SOLO_VERSION" not in catalog  # production's catalogue entry for the held image
    merged = origin.workspace(merge2).definitions
    assert merged[SOLO] == origin.workspace(origin.initial).definitions[SOLO]
    assert merged[PARENT] == origin.workspace(c2).definitions[PARENT]
    # the hold survives the next rollout too (P moved to c2, main still has v2 for SOLO)
    c3 = origin.commit({"README.md": "again\n"}, "docs")
    assert set(holds_now(ops, c3)) == {SOLO}

    # main fixes forward, touching the very lines production reverted: no hold, main's tree exactly
    c4 = origin.commit(solo_v(origin, "3"), "solo v3")
    assert holds_now(ops, c4) == {}
    merge3 = promote(ops, c4)
    assert origin.tree(merge3) == origin.tree(c4)
    assert "solo v3" in origin.show(merge3, SOLO_DF) and "<<<<" not in origin.show(merge3, SOLO_DF)


def test_reverting_the_revert_lifts_the_hold(origin, ops):
    c1 = origin.commit(solo_v(origin, "2"), "solo v2")
    merge = promote(ops, c1)
    revert = origin.revert_on_production(merge)
    origin.commit({"README.md": "x\n"}, "docs")
    assert set(holds_now(ops)) == {SOLO}
    origin.revert_on_production(revert)
    assert holds_now(ops) == {}


def test_child_of_a_held_parent_is_held_with_production_files(origin, ops):
    c1 = origin.commit({PARENT_DF: origin.show(origin.initial, PARENT_DF).replace("parent v1", "parent v2")},
                       "parent v2")
    merge = promote(ops, c1)
    origin.revert_on_production(merge)
    # main changes the child itself (not a fix of the parent): the child must still keep production's files
    tool = "src/busybox/1.0/tools/amd64/tool.sh"
    c2 = origin.commit({tool: origin.show(c1, tool).replace("1.0", "1.1")}, "tool 1.1")
    holds = holds_now(ops, c2)
    assert set(holds) == {PARENT, CHILD, MULTISTAGE}
    assert holds[CHILD].parent == PARENT and holds[MULTISTAGE].reason.startswith("its parent")
    merge2 = promote(ops, c2)
    prod_defs = origin.workspace(origin.initial).definitions
    assert {t: origin.workspace(merge2).definitions[t] for t in holds} == {t: prod_defs[t] for t in holds}
    assert origin.show(merge2, tool) == origin.show(origin.initial, tool)


def test_merged_definitions_match_the_written_tree(origin, ops):
    c1 = origin.commit(solo_v(origin, "2"), "solo v2")
    origin.revert_on_production(promote(ops, c1))
    c2 = origin.commit({PARENT_DF: origin.show(c1, PARENT_DF) + "# touched\n"}, "parent touched")
    ops.fetch()
    production = ops.production_head()
    holds = holds_now(ops, c2)
    expected = merged_definitions(ops.workspace(production), ops.workspace(c2), holds)
    assert origin.workspace(promote(ops, c2)).definitions == expected


def test_guard_refuses_production_commits_that_are_not_merges_or_reverts(origin, ops):
    c1 = origin.commit(solo_v(origin, "2"), "solo v2")
    origin.revert_on_production(promote(ops, c1))
    ops.fetch()
    ops.check_production(ops.production_head(), ops.main_head())  # merges from main and reverts are fine
    hotfix = origin.commit_on_production({"README.md": "hotfix\n"}, "hotfix straight on production")
    ops.fetch()
    with pytest.raises(OperationError) as info:
        ops.check_production(ops.production_head(), ops.main_head())
    assert hotfix[:10] in str(info.value) and "neither merges from main nor reverts" in str(info.value)


def test_push_is_rejected_when_production_moved(origin, ops):
    c1 = origin.commit(solo_v(origin, "2"), "solo v2")
    ops.fetch()
    stale_production = ops.production_head()
    other = GitOps(origin.dev)
    promote(other, c1)  # someone else promoted first
    tree = ops.rollout_tree(stale_production, c1, {})
    merge = ops.commit_tree(tree, [stale_production, c1], "late rollout\n")
    with pytest.raises(PushRejected):
        ops.push(merge, "production")
    assert origin.head("production") != merge


def test_revert_of_a_merge_uses_the_mainline_parent(origin, ops):
    c1 = origin.commit(solo_v(origin, "2"), "solo v2")
    merge = promote(ops, c1)
    ops.fetch()
    revert = ops.revert(ops.production_head(), merge)
    assert git(origin.agent, "rev-parse", f"{revert}^{{tree}}").strip() == origin.tree(origin.initial)
    assert "This reverts commit " + merge in git(origin.agent, "log", "-1", "--format=%B", revert)


def test_unknown_commit_and_missing_branch_are_clear(origin, ops):
    with pytest.raises(InputError):
        ops.sha("no-such-rev")
    with pytest.raises(OperationError, match="not found"):
        GitOps(origin.agent, production="prod-typo").production_head()


def test_held_catalog_replaces_only_the_held_entries():
    from lifecycle.production.gitops import held_catalog

    main = ("registry: r.io\nrepository: team/x\nimages:\n"
            "  # first image\n  - tagBase: a\n    dockerfile: src/a\n    buildArgs: {V: \"2\"}\n"
            "  - tagBase: b   # keep me\n    dockerfile: src/b\n")
    prod = ("registry: r.io\nrepository: team/x\nimages:\n"
            "  - tagBase: a\n    dockerfile: src/a\n    buildArgs: {V: \"1\"}\n"
            "  - tagBase: b\n    dockerfile: src/b-old\n")
    out = held_catalog(main, prod, ["a"])
    assert 'V: "1"' in out and 'V: "2"' not in out
    assert "src/b-old" not in out and "# keep me" in out and "# first image" in out
    assert "  - tagBase: a" not in held_catalog(main, prod.replace("tagBase: a", "tagBase: z"), ["a"])


def test_a_hold_merge_changes_only_the_held_entry_of_the_catalogue(origin, ops):
    """Issue 11 item 11: the merge that holds SOLO writes main's images.yml with only SOLO's entry taken
    from production, so against production (its first parent) the catalogue is unchanged byte for byte, and
    against main only SOLO's lines differ."""
    import difflib

    c1 = origin.commit(solo_v(origin, "2"), "solo v2")
    origin.revert_on_production(promote(ops, c1))
    c2 = origin.commit({"README.md": "moved on\n"}, "docs")
    assert set(holds_now(ops, c2)) == {SOLO}
    merge = promote(ops, c2)
    production_before = origin.parents(merge)[0]
    assert origin.show(merge, CATALOG) == origin.show(production_before, CATALOG)
    assert git(origin.bare, "diff", "--name-only", production_before, merge, "--", CATALOG) == ""
    main_lines = origin.show(c2, CATALOG).splitlines()
    merged_lines = origin.show(merge, CATALOG).splitlines()
    start = next(i for i, line in enumerate(main_lines) if line.strip() == f"- tagBase: {SOLO}")
    end = next((i for i in range(start + 1, len(main_lines)) if main_lines[i].lstrip().startswith("- ")),
               len(main_lines))
    changed = [i for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=main_lines, b=merged_lines).get_opcodes()
               if tag != "equal" for i in range(i1, max(i2, i1 + 1))]
    assert changed and all(start <= i < end for i in changed), (changed, start, end)
