"""`lifecycle import-manifest` on a hand-made upstream manifest (tests/data/upstream), then validate and plan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lifecycle.errors import InputError
from lifecycle.upstream import expand, load_manifest, map_manifest
from tests.fixtures.catalogs import run_cli
from tests.fixtures.gitrepo import commit_all, git, make_repo

DATA = Path(__file__).resolve().parents[1] / "data" / "upstream"
POLICY = ["--policy-base", "mcr.microsoft.com/azurelinux/base/core:3.0",
          "--policy-base", "mcr.microsoft.com/mirror/docker/library/ubuntu:22.04"]
EXPECTED = ["azurelinux-3.0-amd64", "azurelinux-3.0-build-amd64", "azurelinux-3.0-helix-amd64",
            "azurelinux-3.0-helix-arm64v8", "azurelinux-3.0-net9.0-crossdeps-amd64", "ubuntu-22.04-helix-arm64v8"]


def upstream_copy(tmp_path) -> Path:
    return Path(shutil.copytree(DATA, tmp_path / "upstream"))


def import_into_new_repo(tmp_path, *extra):
    dest = make_repo(tmp_path, {"README.md": "# imported\n"}, name="dest")
    code, out, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest), "-o", "json",
                              *POLICY, *extra])
    assert code == 0, err
    return dest, json.loads(out)


def test_import_then_validate_and_plan_all(tmp_path):
    dest, report = import_into_new_repo(tmp_path)
    assert report["images"] == EXPECTED and report["registry"] == "mcr.microsoft.com"
    commit_all(dest, "import")
    code, _, err = run_cli(["validate", "--repo", str(dest)])
    assert code == 0, err
    code, out, err = run_cli(["plan", "--repo", str(dest), "--all", "-o", "json"])
    plan = {e["tagbase"]: e for e in json.loads(out)["images"]}
    assert code == 0 and sorted(plan) == sorted(EXPECTED)
    # in-repo parents come from the upstream Dockerfiles' FROM lines
    assert plan["azurelinux-3.0-build-amd64"]["parents"] == ["azurelinux-3.0-amd64"]
    assert plan["azurelinux-3.0-net9.0-crossdeps-amd64"]["parents"] == ["azurelinux-3.0-build-amd64"]
    assert plan["ubuntu-22.04-helix-arm64v8"]["platform"] == "linux/arm64/v8"


def test_catalogue_content_variables_shared_tags_and_header(tmp_path):
    dest, _ = import_into_new_repo(tmp_path)
    text = (dest / "manifests/images.yml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../scripts/lifecycle/schemas/images.schema.json\n")
    assert 'buildArgs: {CMAKE_VERSION: "3.30.3"}' in text  # $(CMakeVersion) expanded, and quoted
    assert "sharedTags: [azurelinux-3.0-build]" in text  # image-level shared tag of a one-platform image
    assert "sharedTags: [azurelinux-3.0-crossdeps-net9.0-amd64]" in text  # upstream name kept as an alias
    assert "platform: {os: linux, architecture: arm64, variant: v8}" in text
    assert (dest / "src/azurelinux/3.0/build/amd64/install-cmake.sh").is_file()
    assert not (dest / "src/nanoserver").exists() and not (dest / "src/azurelinux/3.0/android").exists()


def test_report_lists_everything_not_mapped(tmp_path):
    _, report = import_into_new_repo(tmp_path)
    found = {(f["kind"], f["where"].split(": ", 1)[-1], f["what"].split(" ", 1)[0]) for f in report["findings"]}
    assert found == {
        ("unmapped", "repos[0].images[1].platforms[0]", "customBuildLegGroups"),
        ("unmapped", "repos[0].images[2].platforms[1]", "tag"),  # $(NotDefined)
        ("unmapped", "repos[0].images[2]", "shared"),  # multi-platform shared tag
        ("mismatch", "repos[0].images[3].platforms[0]", "upstream"),
        ("unmapped", "repos[0].images[4].platforms[0]", "dockerfile"),  # does not exist
        ("unmapped", "repos[0].images[0].platforms[0]", "os"),  # windows
    }
    mismatch = next(f for f in report["findings"] if f["kind"] == "mismatch")
    assert "'azurelinux-3.0-crossdeps-net9.0-amd64'" in mismatch["what"] and mismatch["where"].startswith(
        "src/azurelinux/manifest.json")


def test_in_place_import_reports_upstream_from_lines_and_writes_policy(tmp_path):
    src = upstream_copy(tmp_path)
    code, out, err = run_cli(["import-manifest", str(src / "manifest.json"), "--registry", "localhost:5000",
                              "--repository", "team/prereqs", "-o", "json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["copied"] == [] and report["repository"] == "team/prereqs"
    notes = {f["where"]: f["what"] for f in report["findings"] if f["kind"] == "note"}
    assert "write localhost:5000/team/prereqs:azurelinux-3.0-amd64" in notes["src/azurelinux/3.0/build/amd64/Dockerfile:1"]
    policy = (src / "manifests/policy.yml").read_text()
    assert "- mcr.microsoft.com/azurelinux/base/core:3.0\n" in policy and "labelPrefix:" in policy


def test_reimport_keeps_owners_tests_and_end_of_life(tmp_path):
    dest, _ = import_into_new_repo(tmp_path)
    path = dest / "manifests/images.yml"
    path.write_text(path.read_text().replace(
        "  - tagBase: azurelinux-3.0-amd64\n",
        "  - tagBase: azurelinux-3.0-amd64\n    owners: [infra]\n    tests: [git --version]\n    endOfLife: 2027-07-31\n"))
    code, _, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest)])
    assert code == 0, err
    text = path.read_text()
    assert ("    platform: {os: linux, architecture: amd64}\n    tests: [git --version]\n    owners: [infra]\n"
            "    endOfLife: 2027-07-31\n") in text


def test_dry_run_writes_nothing(tmp_path):
    dest = make_repo(tmp_path, {"README.md": "x\n"}, name="dest")
    code, out, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest), "--dry-run"])
    assert code == 0, err
    assert "tagBase: azurelinux-3.0-amd64" in out and "would write" in err
    assert git(dest, "status", "--porcelain") == "" and sorted(p.name for p in dest.iterdir()) == [".git", "README.md"]


@pytest.mark.parametrize("content, fragment", [
    (None, "manifest.json: file not found"),
    ('{"repos": [ {"name": "x", ', "manifest.json:1:"),
    ("[1, 2]", "must be a JSON object"),
    ('{"registry": "r", "repos": []}', "no repos"),
    ('{"registry": "r", "includes": ["missing.json"], "repos": []}', "missing.json: file not found"),
])
def test_unreadable_input_exits_2_and_writes_nothing(tmp_path, content, fragment):
    src = tmp_path / "in"
    src.mkdir()
    if content is not None:
        (src / "manifest.json").write_text(content)
    dest = make_repo(tmp_path, {"README.md": "x\n"}, name="dest")
    code, _, err = run_cli(["import-manifest", str(src / "manifest.json"), "--dest", str(dest)])
    assert code == 2 and fragment in err, err
    assert git(dest, "status", "--porcelain") == ""


def test_expand_is_recursive_and_leaves_system_and_unknown_variables():
    variables = {"A": "$(B)-x", "B": "$(C)", "C": "c", "Loop": "$(Loop)"}
    assert expand("$(A)/$(System:TimeStamp)/$(Nope)", variables) == "c-x/$(System:TimeStamp)/$(Nope)"
    with pytest.raises(InputError, match="loop"):
        expand("$(Loop)", variables)


def test_include_cycle_and_repo_choice(tmp_path):
    src = upstream_copy(tmp_path)
    (src / "src/ubuntu/manifest.json").write_text(json.dumps({
        "includes": ["manifest.json"],
        "repos": [{"name": "other/repo", "images": [{"platforms": [{"dockerfile": "src/ubuntu/22.04/helix/arm64v8",
                                                                    "os": "linux", "tags": {}}]}]}]}))
    manifest = load_manifest(src / "manifest.json")
    assert [name for name, _ in manifest.repos] == ["dotnet-buildtools/prereqs", "other/repo"]
    result = map_manifest(manifest)
    assert any(f.where == "other/repo" and "--repository other/repo" in f.what for f in result.unmapped)
    other = map_manifest(manifest, repository="other/repo")
    assert [e["tagBase"] for e in other.images] == ["ubuntu-22.04-helix-arm64v8"]
