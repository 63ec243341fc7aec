"""The catalogue model: images per folder, shared tags (one- and multi-platform), registry aliases, duplicates
and cycles named by file:line in every verb that loads the catalogue, nested contexts, Dockerfile paths."""

from __future__ import annotations

import pytest

from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.catalogs import OURS, REGISTRY, REPOSITORY, catalog_yaml, image, policy_yaml, run_cli
from tests.fixtures.gitrepo import commit_all, git, make_repo

CORE = "mcr.microsoft.com/azurelinux/base/core:3.0"
MIRROR = "mcr.microsoft.com/team/prereqs"


def files_with(catalog: str, dockerfiles: dict[str, str]) -> dict[str, str]:
    return {"manifests/images.yml": catalog, "manifests/policy.yml": policy_yaml(), **dockerfiles}


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def helix_catalog(extra: str = "", child_from: str = f"{OURS}:helix") -> dict[str, str]:
    """One folder built for two platforms under a multi-platform shared tag, a child naming the shared tag
    from two platforms, and one folder built with two build-arg variants."""
    catalog = f"""registry: {REGISTRY}
repository: {REPOSITORY}
aliases: [{MIRROR}]
sharedTags:
  helix: [helix-amd64, helix-arm64v8]
images:
  - tagBase: helix-amd64
    dockerfile: src/helix/
    platform: {{os: linux, architecture: amd64}}
  - tagBase: helix-arm64v8
    dockerfile: src/helix/Dockerfile
    platform: {{os: linux, architecture: arm64, variant: v8}}
  - tagBase: tools-amd64
    dockerfile: src/helix/tools/Dockerfile.tools
    platform: {{os: linux, architecture: amd64}}
  - tagBase: tools-arm64v8
    dockerfile: src/helix/tools/Dockerfile.tools
    platform: {{os: linux, architecture: arm64, variant: v8}}
  - tagBase: net8-amd64
    dockerfile: src/net
    platform: {{os: linux, architecture: amd64}}
    buildArgs: {{NET: "8.0"}}
  - tagBase: net9-amd64
    dockerfile: src/net
    platform: {{os: linux, architecture: amd64}}
    buildArgs: {{NET: "9.0"}}
{extra}"""
    return files_with(catalog, {
        "src/helix/Dockerfile": f"FROM {CORE}\nRUN echo helix\n",
        "src/helix/tools/Dockerfile.tools": f"FROM {child_from}\nRUN echo tools\n",
        "src/net/Dockerfile": f"FROM {MIRROR}:helix-amd64\nARG NET\nRUN echo $NET\n",
    })


def test_images_per_folder_shared_tag_parent_and_alias(tmp_path):
    repo = make_repo(tmp_path, helix_catalog())
    ws = Workspace.load(WorkTree(repo))
    # a multi-platform shared tag resolves to the platform matching the child
    assert ws.parents_of("tools-amd64") == ["helix-amd64"] and ws.parents_of("tools-arm64v8") == ["helix-arm64v8"]
    # a FROM naming the public mirror is an in-repo parent
    assert ws.parents_of("net8-amd64") == ["helix-amd64"] and ws.external_bases("net8-amd64") == []
    assert ws.catalog.image("helix-amd64").folder == ws.catalog.image("helix-arm64v8").folder == "src/helix"
    assert ws.catalog.image("tools-amd64").dockerfile == "src/helix/tools/Dockerfile.tools"
    assert ws.catalog.image("helix-amd64").index_tags == ("helix",)
    # every variant and platform has its own definition; the nested tools folder is not part of helix's
    assert len(set(ws.definitions.values())) == 6
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 0, out + err


def test_nested_folder_change_plans_that_image_and_its_descendants_only(tmp_path):
    catalog = catalog_yaml([image("src/u/24.04"), image("src/u/24.04/helix"),
                            image("src/u/24.04/helix/webassembly/amd64")])
    repo = make_repo(tmp_path, files_with(catalog, {
        "src/u/24.04/Dockerfile": f"FROM {CORE}\n",
        "src/u/24.04/helix/Dockerfile": f"FROM {OURS}:u-24.04\n",
        "src/u/24.04/helix/webassembly/amd64/Dockerfile": f"FROM {OURS}:u-24.04-helix\nRUN echo one\n",
    }))
    path = repo / "src/u/24.04/helix/webassembly/amd64/Dockerfile"
    path.write_text(path.read_text().replace("one", "two"))
    commit_all(repo, "change the innermost Dockerfile")
    code, out, err = run_cli(["plan", "--repo", str(repo), "--since", "HEAD~1", "-o", "json"])
    assert code == 0, err
    import json

    assert [e["tagbase"] for e in json.loads(out)["images"]] == ["u-24.04-helix-webassembly-amd64"]
    (repo / "src/u/24.04/helix/setup.sh").write_text("echo\n")
    commit_all(repo, "a file of the middle image")
    code, out, err = run_cli(["plan", "--repo", str(repo), "--since", "HEAD~1", "-o", "json"])
    assert [e["tagbase"] for e in json.loads(out)["images"]] == ["u-24.04-helix", "u-24.04-helix-webassembly-amd64"]


VERBS = [["validate"], ["plan", "--all"], ["matrix", "--all"], ["publish", "--all", "--dry-run"],
         ["lkg"], ["stale", "--channel", "staging"]]


def assert_everywhere(repo, *fragments):
    for verb in VERBS:
        code, out, err = run_cli([*verb, "--repo", str(repo)])
        assert code == 2, (verb, out, err)
        for fragment in fragments:
            assert fragment in out + err, (verb, fragment, out + err)


def test_duplicate_tag_base_is_an_error_in_every_verb(tmp_path):
    files = helix_catalog()
    text = files["manifests/images.yml"].replace("tagBase: net9-amd64", "tagBase: net8-amd64")
    repo = make_repo(tmp_path, {**files, "manifests/images.yml": text})
    first = line_of(text, "- tagBase: net8-amd64")
    second = text.splitlines().index("  - tagBase: net8-amd64", first) + 1
    assert_everywhere(repo, f"manifests/images.yml:{second}: duplicate tag base 'net8-amd64', first at "
                            f"manifests/images.yml:{first}")


def test_shared_tag_declared_twice_names_both_lines(tmp_path):
    files = helix_catalog()
    text = files["manifests/images.yml"].replace('    buildArgs: {NET: "9.0"}', '    buildArgs: {NET: "9.0"}\n    sharedTags: [helix]')
    repo = make_repo(tmp_path, {**files, "manifests/images.yml": text})
    assert_everywhere(repo, f"manifests/images.yml:{line_of(text, 'sharedTags: [helix]')}: duplicate shared tag 'helix', "
                            f"first at manifests/images.yml:{line_of(text, 'helix: [helix-amd64')}")


def test_a_tag_two_images_would_move_names_both(tmp_path):
    files = helix_catalog("  - tagBase: net8-amd64-latest\n    dockerfile: src/other\n"
                          "    platform: {os: linux, architecture: amd64}\n")
    files["src/other/Dockerfile"] = f"FROM {CORE}\n"
    repo = make_repo(tmp_path, files)
    text = files["manifests/images.yml"]
    assert_everywhere(repo, f"manifests/images.yml:{line_of(text, 'tagBase: net8-amd64-latest')}: tag base "
                            f"'net8-amd64-latest' would move 'net8-amd64-latest', which tag base 'net8-amd64' at "
                            f"manifests/images.yml:{line_of(text, 'tagBase: net8-amd64')} moves too")


def test_shared_tag_without_the_childs_platform_and_unknown_tag_under_an_alias(tmp_path):
    files = helix_catalog()
    files["manifests/images.yml"] = files["manifests/images.yml"].replace("helix: [helix-amd64, helix-arm64v8]",
                                                                          "helix: [helix-amd64]")
    repo = make_repo(tmp_path, files)
    assert_everywhere(repo, "src/helix/tools/Dockerfile.tools:1", "shared tag 'helix' has no linux/arm64/v8 image")
    repo = make_repo(tmp_path, helix_catalog(child_from=f"{MIRROR}:helix-nope"), name="two")
    assert_everywhere(repo, "src/helix/tools/Dockerfile.tools:1", f"FROM {MIRROR}:helix-nope: our own repository",
                      "'helix-nope' is neither a tag base nor a shared tag")


def test_cycle_names_the_from_lines_that_close_it(tmp_path):
    files = helix_catalog()
    files["src/helix/Dockerfile"] = f"ARG X=1\nFROM {OURS}:net8-amd64\n"
    repo = make_repo(tmp_path, files)
    # helix-amd64 FROM net8 (src/helix/Dockerfile:2), net8 FROM helix-amd64 (src/net/Dockerfile:1)
    assert_everywhere(repo, "dependency cycle", "src/helix/Dockerfile:2 (helix-amd64 FROM net8-amd64)",
                      "src/net/Dockerfile:1 (net8-amd64 FROM helix-amd64)")


def test_orphan_dockerfile_of_any_name_and_os_mismatch(tmp_path):
    files = helix_catalog()
    files["src/helix/tools/Dockerfile.unused"] = f"FROM {CORE}\n"
    repo = make_repo(tmp_path, files)
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 2 and "src/helix/tools/Dockerfile.unused" in out and "Dockerfile is not in the catalogue" in out
    files = helix_catalog()
    files["manifests/images.yml"] = files["manifests/images.yml"].replace(
        "  - tagBase: net8-amd64\n    dockerfile: src/net\n    platform: {os: linux, architecture: amd64}",
        "  - tagBase: net8-amd64\n    dockerfile: src/net\n    platform: {os: windows, architecture: amd64, osVersion: ltsc2022}")
    repo = make_repo(tmp_path, files, name="two")
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 2 and "src/net/Dockerfile:1" in out and "a linux image cannot be the parent of net8-amd64" in out


def test_retiring_one_variant_keeps_the_shared_folder(tmp_path):
    repo = make_repo(tmp_path, helix_catalog())
    code, out, err = run_cli(["retire", "--no-registry", "net9-amd64", "--repo", str(repo)])
    assert code == 0, out + err
    assert (repo / "src/net/Dockerfile").is_file() and git(repo, "status", "--porcelain") == ""
    ws = Workspace.load(WorkTree(repo))
    assert "net9-amd64" not in ws.catalog.tagbases and "net8-amd64" in ws.catalog.tagbases
    code, out, err = run_cli(["retire", "--no-registry", "tools-arm64v8", "--repo", str(repo)])
    assert code == 0, out + err  # its Dockerfile stays: tools-amd64 builds it too
    assert (repo / "src/helix/tools/Dockerfile.tools").is_file()
    code, out, err = run_cli(["retire", "--no-registry", "helix-arm64v8", "--repo", str(repo)])
    assert code == 2 and "shared tag(s) helix list it" in out + err
    assert (repo / "src/helix/Dockerfile").is_file()
