"""plan --since compares definition hashes between a commit and the working tree, in real git repositories."""

from __future__ import annotations

import json

from lifecycle.catalogue.planning import plan_since
from lifecycle.catalogue.source import CommitTree, WorkTree
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.catalogs import catalog_yaml, run_cli, sample_files, sample_images
from tests.fixtures.gitrepo import clone, commit_all, make_repo, write_files

ALL = ["base-amd64", "base-tools-amd64", "base-tools-helix-amd64", "cross-amd64", "ubuntu-amd64"]


def planned_since(repo, ref="HEAD") -> dict[str, str]:
    code, out, err = run_cli(["plan", "--repo", str(repo), "--since", ref, "-o", "json"])
    assert code == 0, err
    return {e["tagbase"]: e["reason"] for e in json.loads(out)["images"]}


def test_parent_change_plans_parent_and_every_descendant(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    write_files(repo, {"src/base/amd64/Dockerfile": "FROM mcr.microsoft.com/azurelinux/base/core:3.0\nRUN echo v2\n"})
    # descendants' hashes change too (a parent's hash is an input), so every one is "changed"
    assert planned_since(repo) == {t: "changed" for t in
                                   ["base-amd64", "base-tools-amd64", "base-tools-helix-amd64", "cross-amd64"]}


def test_descendants_follow_changed_hashes_not_file_lists(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    write_files(repo, {"src/base/tools/amd64/install.sh": "#!/bin/sh\necho v2\n"})
    commit_all(repo, "tools v2")
    ws = Workspace.load(WorkTree(repo))
    before = Workspace.load(CommitTree(repo, "HEAD~1"))
    changed = {t for t in ALL if ws.definitions[t] != before.definitions[t]}
    # the child's own files did not change, yet its definition did: the parent's hash is an input
    assert changed == {"base-tools-amd64", "base-tools-helix-amd64", "cross-amd64"}
    assert plan_since(ws, before, "HEAD~1").tagbases == ["base-tools-amd64", "base-tools-helix-amd64", "cross-amd64"]


def test_readme_outside_any_context_plans_nothing(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    write_files(repo, {"README.md": "# changed\n", "docs/notes.md": "new file\n"})
    commit_all(repo, "docs")
    assert planned_since(repo, "HEAD~1") == {}


def test_file_excluded_by_dockerignore_plans_nothing(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    write_files(repo, {"src/base/tools/amd64/NOTES.md": "edited\n", "src/base/tools/amd64/scratch/x": "new\n"})
    assert planned_since(repo) == {}
    write_files(repo, {"src/base/tools/amd64/new-script.sh": "echo\n"})  # not ignored: it is sent to the build
    assert planned_since(repo)["base-tools-amd64"] == "changed"


def test_build_arg_change_plans_that_image(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    images = sample_images()
    images[1]["buildArgs"] = {"TOOL_VERSION": "2.0"}
    write_files(repo, {"manifests/images.yml": catalog_yaml(images)})
    assert planned_since(repo) == {t: "changed" for t in ["base-tools-amd64", "base-tools-helix-amd64", "cross-amd64"]}


def test_intermediate_stage_external_base_change_plans_the_image(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    before = Workspace.load(WorkTree(repo))
    images = sample_images()
    images[3]["buildArgs"] = {"CORE": "mcr.microsoft.com/azurelinux/base/core:3.0.20260101"}
    write_files(repo, {"manifests/images.yml": catalog_yaml(images)})
    after = Workspace.load(WorkTree(repo))
    assert [b.ref for b in after.external_bases("cross-amd64")][:2] == [
        "mcr.microsoft.com/azurelinux/base/core:3.0.20260101", "mcr.microsoft.com/azurelinux/base/core:3.0"]
    assert planned_since(repo) == {"cross-amd64": "changed"}
    assert before.definitions["base-amd64"] == after.definitions["base-amd64"]


def test_new_image_is_new_and_removed_catalogue_plans_everything(tmp_path):
    files = sample_files()
    repo = make_repo(tmp_path, {k: v for k, v in files.items() if not k.startswith("manifests/")})
    write_files(repo, {"manifests/images.yml": files["manifests/images.yml"],
                       "manifests/policy.yml": files["manifests/policy.yml"]})
    assert planned_since(repo) == {t: "new" for t in ALL}


def test_hashes_equal_across_clones_and_between_commit_and_clean_worktree(tmp_path):
    repo = make_repo(tmp_path, {**sample_files(), "src/base/amd64/blob.bin": bytes(range(256))})
    a = clone(repo, tmp_path / "a")
    b = clone(repo, tmp_path / "b")
    in_a = Workspace.load(WorkTree(a)).definitions
    assert in_a == Workspace.load(WorkTree(b)).definitions
    assert in_a == Workspace.load(CommitTree(b, "HEAD")).definitions
    assert sorted(in_a) == sorted(ALL) and all(d.startswith("sha256:") for d in in_a.values())


def test_untracked_ignored_files_do_not_count(tmp_path):
    repo = make_repo(tmp_path, {**sample_files(), ".gitignore": "*.log\n"})
    write_files(repo, {"src/base/amd64/build.log": "noise\n"})
    assert planned_since(repo) == {}


def test_plan_all_is_in_dependency_order_and_unknown_ref_is_input_error(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    code, out, _ = run_cli(["plan", "--repo", str(repo), "--all", "-o", "json"])
    order = [e["tagbase"] for e in json.loads(out)["images"]]
    assert code == 0 and sorted(order) == sorted(ALL)
    assert order.index("base-amd64") < order.index("base-tools-amd64") < order.index("base-tools-helix-amd64")
    assert order.index("base-tools-amd64") < order.index("cross-amd64")
    code, _, err = run_cli(["plan", "--repo", str(repo), "--since", "no-such-ref"])
    assert code == 2 and "no-such-ref" in err
