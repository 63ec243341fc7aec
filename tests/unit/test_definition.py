"""Definition hashes: which inputs count, and that they are stable."""

from __future__ import annotations

from lifecycle.catalogue.catalog import ImageSpec, Platform
from lifecycle.catalogue.definition import context_files, definition_hash, definition_inputs
from lifecycle.catalogue.source import CommitTree, WorkTree, git_blob_id
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.catalogs import sample_files
from tests.fixtures.gitrepo import make_repo, write_files

TOOLS = ImageSpec("base-tools-amd64", "src/base/tools/amd64", Platform("linux", "amd64"), {"TOOL_VERSION": "1.0"})


def test_context_honours_dockerignore_but_keeps_dockerfile_and_dockerignore(tmp_path):
    repo = make_repo(tmp_path, {**sample_files(), "src/base/tools/amd64/scratch/a": "x",
                                "src/base/tools/amd64-other/Dockerfile": "FROM a\n"})
    for source in (WorkTree(repo), CommitTree(repo, "HEAD")):
        assert context_files(source, "src/base/tools/amd64") == [".dockerignore", "Dockerfile", "install.sh"]
    write_files(repo, {"src/base/tools/amd64/.dockerignore": "*\n"})
    assert context_files(WorkTree(repo), "src/base/tools/amd64") == [".dockerignore", "Dockerfile"]


def test_inputs_use_git_blob_ids(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    inputs = definition_inputs(WorkTree(repo), TOOLS, ["ext:1"], {"base-amd64": "sha256:p"})
    dockerfile = sample_files()["src/base/tools/amd64/Dockerfile"].encode()
    assert inputs["dockerfile"] == git_blob_id(dockerfile)
    assert inputs["context"][2] == ["install.sh", "100644",
                                    git_blob_id(sample_files()["src/base/tools/amd64/install.sh"].encode())]
    assert inputs["externalBases"] == ["ext:1"] and inputs["parents"] == {"base-amd64": "sha256:p"}
    assert inputs == definition_inputs(CommitTree(repo, "HEAD"), TOOLS, ["ext:1"], {"base-amd64": "sha256:p"})


def test_every_input_changes_the_hash(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    source = WorkTree(repo)
    base = definition_inputs(source, TOOLS, ["ext:1"], {"base-amd64": "sha256:p"})
    variants = [
        definition_inputs(source, ImageSpec(TOOLS.tagbase, TOOLS.folder, Platform("linux", "arm64"), TOOLS.build_args),
                          ["ext:1"], {"base-amd64": "sha256:p"}),
        definition_inputs(source, ImageSpec(TOOLS.tagbase, TOOLS.folder, TOOLS.platform, {"TOOL_VERSION": "2"}),
                          ["ext:1"], {"base-amd64": "sha256:p"}),
        definition_inputs(source, TOOLS, ["ext:2"], {"base-amd64": "sha256:p"}),
        definition_inputs(source, TOOLS, ["ext:1", "ext:1"], {"base-amd64": "sha256:p"}),
        definition_inputs(source, TOOLS, ["ext:1"], {"base-amd64": "sha256:q"}),
    ]
    hashes = {definition_hash(v) for v in variants} | {definition_hash(base)}
    assert len(hashes) == len(variants) + 1
    # key order of build args and parents does not matter
    reordered = dict(base, buildArgs=dict(reversed(list(base["buildArgs"].items()))))
    assert definition_hash(reordered) == definition_hash(base)


def test_owners_tests_and_eol_do_not_change_the_definition(tmp_path):
    files = sample_files()
    repo = make_repo(tmp_path, files)
    before = Workspace.load(WorkTree(repo)).definitions
    write_files(repo, {"manifests/images.yml": files["manifests/images.yml"].replace(
        '  - tagBase: "ubuntu-amd64"', '  - tagBase: "ubuntu-amd64"\n    owners: ["x"]\n    tests: ["true"]\n'
        '    endOfLife: "2030-01-01"')})
    assert Workspace.load(WorkTree(repo)).definitions == before


def test_worktree_without_git_lists_every_file(tmp_path):
    write_files(tmp_path, sample_files())
    repo = make_repo(tmp_path / "g", sample_files())
    assert Workspace.load(WorkTree(tmp_path)).definitions == Workspace.load(WorkTree(repo)).definitions


def test_executable_bit_changes_the_definition(tmp_path):
    """chmod +x of a context file changes what the build copies, so it changes the definition."""
    import os

    from lifecycle.catalogue.source import CommitTree, WorkTree
    from lifecycle.catalogue.workspace import Workspace
    from tests.fixtures.catalogs import sample_files
    from tests.fixtures.gitrepo import commit_all, make_repo

    files = sample_files()
    repo = make_repo(tmp_path, files)
    script = next(p for p in files if p.startswith("src/") and not p.endswith("Dockerfile"))
    before = Workspace.load(CommitTree(repo, "HEAD")).definitions
    os.chmod(repo / script, 0o755)
    after_worktree = Workspace.load(WorkTree(repo)).definitions
    commit_all(repo, "make it executable")
    after_commit = Workspace.load(CommitTree(repo, "HEAD")).definitions
    changed = {t for t in before if before[t] != after_worktree[t]}
    assert changed and after_worktree == after_commit
