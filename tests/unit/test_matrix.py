"""The Azure Pipelines matrix: one leg per chain per platform, parents before children in a leg."""

from __future__ import annotations

import json

from lifecycle.matrix import as_azure_matrix, build_matrix
from lifecycle.source import WorkTree
from lifecycle.workspace import Workspace
from tests.fixtures.catalogs import catalog_yaml, image, run_cli, sample_files, sample_images
from tests.fixtures.gitrepo import make_repo


def workspace(tmp_path, extra_images=(), extra_files=None):
    files = {**sample_files(), **(extra_files or {})}
    files["manifests/images.yml"] = catalog_yaml(sample_images() + list(extra_images))
    return make_repo(tmp_path, files)


def test_chain_stays_in_one_leg_in_order(tmp_path):
    repo = workspace(tmp_path)
    ws = Workspace.load(WorkTree(repo))
    legs = build_matrix(ws, ws.order(), max_legs=20)
    by_image = {t: leg for leg in legs for t in leg.images}
    chain = by_image["base-amd64"]
    images = list(chain.images)
    assert sorted(images) == ["base-amd64", "base-tools-amd64", "base-tools-helix-amd64", "cross-amd64"]
    assert images.index("base-amd64") < images.index("base-tools-amd64") < images.index("base-tools-helix-amd64")
    assert images.index("base-tools-amd64") < images.index("cross-amd64")
    assert by_image["ubuntu-amd64"] is not chain and len(legs) == 2


def test_platforms_get_separate_legs_and_max_legs_packs(tmp_path):
    arm = {f"src/arm{i}/arm64/Dockerfile": "FROM mcr.microsoft.com/azurelinux/base/core:3.0\n" for i in range(3)}
    repo = workspace(tmp_path, [image(f"src/arm{i}/arm64", arch="arm64") for i in range(3)], arm)
    ws = Workspace.load(WorkTree(repo))
    legs = build_matrix(ws, ws.order(), max_legs=2)
    assert sorted({leg.platform for leg in legs}) == ["linux/amd64", "linux/arm64"]
    assert len(legs) == 2  # one per platform, never fewer than the platforms
    assert sorted(t for leg in legs for t in leg.images) == sorted(ws.order())
    wide = build_matrix(ws, ws.order(), max_legs=50)
    assert len([leg for leg in wide if leg.platform == "linux/arm64"]) == 3
    assert as_azure_matrix(wide)[wide[0].name] == {"images": ",".join(wide[0].images), "platform": wide[0].platform,
                                                   "imageCount": str(len(wide[0].images))}


def test_subset_plan_only_builds_planned_images(tmp_path):
    repo = workspace(tmp_path)
    ws = Workspace.load(WorkTree(repo))
    legs = build_matrix(ws, ["base-tools-helix-amd64", "ubuntu-amd64"])
    assert sorted(t for leg in legs for t in leg.images) == ["base-tools-helix-amd64", "ubuntu-amd64"]


def test_cli_prints_json_and_azure_variable(tmp_path, monkeypatch):
    repo = workspace(tmp_path)
    code, out, err = run_cli(["matrix", "--repo", str(repo), "--all", "-o", "json"])
    assert code == 0, err
    data = json.loads(out)
    assert sorted(t for leg in data.values() for t in leg["images"].split(",")) == sorted(
        e["tagBase"] for e in sample_images())
    monkeypatch.setenv("TF_BUILD", "True")
    code, out, _ = run_cli(["matrix", "--repo", str(repo), "--all", "-o", "json"])
    line = next(l for l in out.splitlines() if l.startswith("##vso[task.setvariable variable=matrix;isOutput=true]"))
    assert json.loads(line.split("]", 1)[1]) == data
    code, out, _ = run_cli(["matrix", "--repo", str(repo), "--since", "HEAD", "-o", "json"])
    assert code == 0 and "##vso[task.setvariable variable=legCount;isOutput=true]0" in out.splitlines()
