"""The Azure Pipelines matrix: chains per leg or legs per dependency level, a hard leg bound, agent pools."""

from __future__ import annotations

import json
import math
import re

import pytest

from lifecycle.errors import InputError
from lifecycle.build.matrix import (LEG_OVERHEAD, MAX_LEVELS, as_azure_matrix, build_matrix, level_legs,
                              levels_of, plan_matrix)
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.catalogs import catalog_yaml, image, policy_yaml, run_cli, sample_files, sample_images, APPROVED
from tests.fixtures.fleet import upstream_shaped_files
from tests.fixtures.gitrepo import make_repo

LEG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")  # what Azure accepts as a matrix leg name


def workspace(tmp_path, extra_images=(), extra_files=None):
    files = {**sample_files(), **(extra_files or {})}
    files["manifests/images.yml"] = catalog_yaml(sample_images() + list(extra_images))
    return make_repo(tmp_path, files)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Workspace:
    return Workspace.load(WorkTree(make_repo(tmp_path_factory.mktemp("fleet"), upstream_shaped_files())))


def check_plan(ws: Workspace, legs, tagbases, max_legs: int) -> None:
    """Every planned image built exactly once; parents before children (an earlier level, or earlier in the
    same leg); at most `max_legs` legs per level; names Azure accepts, unique."""
    built = [t for leg in legs for t in leg.images]
    assert sorted(built) == sorted(tagbases)
    where = {t: (leg.level, leg.name, leg.images.index(t)) for leg in legs for t in leg.images}
    for t in tagbases:
        for parent in ws.parents_of(t):
            if parent in where:
                (plevel, pleg, pindex), (level, leg, index) = where[parent], where[t]
                assert plevel < level or (pleg == leg and pindex < index), (parent, t)
    for level in {leg.level for leg in legs}:
        assert len([leg for leg in legs if leg.level == level]) <= max_legs
    names = [leg.name for leg in legs]
    assert len(set(names)) == len(names) and all(LEG_NAME.match(n) for n in names), names


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


def test_max_legs_is_a_hard_bound(tmp_path):
    """Issue 12 item 7: three platforms used to get a leg each on top of the bound (20 gave 22 legs)."""
    arm = {f"src/arm{i}/arm64/Dockerfile": "FROM mcr.microsoft.com/azurelinux/base/core:3.0\n" for i in range(3)}
    repo = workspace(tmp_path, [image(f"src/arm{i}/arm64", arch="arm64") for i in range(3)], arm)
    ws = Workspace.load(WorkTree(repo))
    legs = build_matrix(ws, ws.order(), max_legs=2)
    assert len(legs) == 2
    check_plan(ws, legs, ws.order(), 2)
    one = build_matrix(ws, ws.order(), max_legs=1)
    assert len(one) == 1 and one[0].platform == "linux/amd64,linux/arm64" and one[0].emulation
    wide = build_matrix(ws, ws.order(), max_legs=50)
    assert len([leg for leg in wide if leg.platform == "linux/arm64"]) == 3
    assert all(leg.platform == "linux/amd64" and not leg.emulation for leg in wide if "amd64" in leg.images[0])
    assert as_azure_matrix(wide)[wide[0].name] == {
        "images": ",".join(wide[0].images), "platform": wide[0].platform, "imageCount": str(len(wide[0].images)),
        "vmImage": "ubuntu-22.04", "level": "0", "emulation": "false", "parents": ""}


@pytest.mark.parametrize("max_legs", [1, 3, 10, 20])
@pytest.mark.parametrize("mode", ["chain", "levels", "auto"])
def test_every_mode_respects_the_bound_on_the_fleet(fleet, mode, max_legs):
    tagbases = fleet.order()
    result = plan_matrix(fleet, tagbases, max_legs, mode)
    check_plan(fleet, list(result.legs), tagbases, max_legs)
    for k in range(result.level_count):
        assert 0 < len(result.level(k)) <= max_legs
    assert result.level_count <= MAX_LEVELS


def test_levels_spread_a_wide_fan_out(fleet):
    tagbases = fleet.order()
    level = levels_of(fleet, tagbases)
    assert max(level.values()) == 4 and len(tagbases) == 250
    builder = "azurelinux-3.0-net10.0-crossdeps-builder-amd64"
    children = [t for t in tagbases if builder in fleet.parents_of(t)]
    assert len(children) == 30 and {level[c] for c in children} == {3}
    chain = plan_matrix(fleet, tagbases, 20, "chain")
    leveled = plan_matrix(fleet, tagbases, 20, "levels")
    # chains: the whole cross family (68 images) is one leg; levels: no leg holds more than its share
    assert chain.critical_path() == 68 and chain.level_count == 1
    for k in range(leveled.level_count):
        legs = leveled.level(k)
        assert max(len(leg.images) for leg in legs) == math.ceil(sum(len(leg.images) for leg in legs) / len(legs))
    holders = {leg.name for leg in leveled.legs for t in leg.images if t in children}
    assert len(holders) >= 10  # the 30 siblings are spread, not queued on one agent
    assert leveled.critical_path() * 3 <= chain.critical_path()
    assert plan_matrix(fleet, tagbases, 20).mode == "levels"


def test_auto_keeps_chains_when_they_are_not_slower(tmp_path):
    ws = Workspace.load(WorkTree(workspace(tmp_path)))
    chain = plan_matrix(ws, ws.order(), 20, "chain")
    leveled = plan_matrix(ws, ws.order(), 20, "levels")
    # base -> tools -> {helix, cross}, ubuntu: 4 images in a row either way, and levels pay three starts
    assert chain.critical_path() == 4 and leveled.critical_path() == 3
    assert leveled.estimate() == 3 + 3 * LEG_OVERHEAD >= chain.estimate() == 4 + LEG_OVERHEAD
    assert plan_matrix(ws, ws.order(), 20).mode == "chain"
    assert plan_matrix(ws, [], 20).legs == ()


def test_a_plan_deeper_than_the_level_jobs_builds_the_rest_as_chains(fleet):
    tagbases = fleet.order()
    legs = level_legs(fleet, tagbases, 20, levels=2)
    check_plan(fleet, legs, tagbases, 20)
    assert {leg.level for leg in legs} == {0, 1}
    family = next(leg for leg in legs if "azurelinux-3.0-crossdeps-amd64" in leg.images)
    assert family.level == 1 and len(family.images) > 1  # the crossdeps chain is built in order in one leg


def test_subset_plan_only_builds_planned_images(tmp_path):
    repo = workspace(tmp_path)
    ws = Workspace.load(WorkTree(repo))
    for mode in ("chain", "levels"):
        legs = plan_matrix(ws, ["base-tools-helix-amd64", "ubuntu-amd64"], mode=mode).legs
        assert sorted(t for leg in legs for t in leg.images) == ["base-tools-helix-amd64", "ubuntu-amd64"]
        assert {leg.level for leg in legs} == {0}


WINDOWS = "mcr.microsoft.com/windows/nanoserver:*"


def windows_repo(tmp_path, pools: str = "", versions=("ltsc2022", "ltsc2022", "ltsc2019")):
    files = sample_files()
    entries = sample_images()
    for i, version in enumerate(versions):
        folder = f"src/nanoserver/{version}/tool{i}/amd64"
        files[f"{folder}/Dockerfile"] = f"FROM mcr.microsoft.com/windows/nanoserver:{version}\n"
        entries.append(image(folder, platform={"os": "windows", "architecture": "amd64", "osVersion": version}))
    files["manifests/images.yml"] = catalog_yaml(entries)
    files["manifests/policy.yml"] = policy_yaml(APPROVED + [WINDOWS]) + pools
    return make_repo(tmp_path, files)


def test_windows_images_get_windows_legs_by_release(tmp_path):
    ws = Workspace.load(WorkTree(windows_repo(tmp_path)))
    legs = plan_matrix(ws, ws.order(), 20).legs
    pools = {t: leg.pool for leg in legs for t in leg.images}
    assert pools["nanoserver-ltsc2022-tool0-amd64"] == pools["nanoserver-ltsc2022-tool1-amd64"] == "windows-2022"
    assert pools["nanoserver-ltsc2019-tool2-amd64"] == "windows-2019"
    assert pools["base-amd64"] == "ubuntu-22.04"
    for leg in legs:  # a leg never mixes agent kinds, and Windows legs never ask for emulation
        assert len({pools[t] for t in leg.images}) == 1
        assert not leg.emulation
    # the bound holds with the pools: three pools fit in three legs, not in two
    assert len(plan_matrix(ws, ws.order(), 3).legs) == 3
    with pytest.raises(InputError, match=r"--max-legs 2 cannot hold level 0: .*3 different agent pools"):
        plan_matrix(ws, ws.order(), 2)


def test_build_pools_come_from_the_policy(tmp_path):
    pools = 'buildPools: {"linux": "ubuntu-24.04", "windows/ltsc2022": "win22-custom", "windows/ltsc2016": "w16"}\n'
    ws = Workspace.load(WorkTree(windows_repo(tmp_path / "a", pools, ("ltsc2022", "ltsc2016"))))
    by = {t: leg.pool for leg in plan_matrix(ws, ws.order(), 20).legs for t in leg.images}
    assert by["base-amd64"] == "ubuntu-24.04" and by["nanoserver-ltsc2022-tool0-amd64"] == "win22-custom"
    assert by["nanoserver-ltsc2016-tool1-amd64"] == "w16"
    # a release with no pool (no default, nothing in the policy) is bad input naming the key to add
    repo = windows_repo(tmp_path / "b", "", ("ltsc2016",))
    ws = Workspace.load(WorkTree(repo))
    with pytest.raises(InputError, match=r'manifests/policy.yml: no build pool for windows/ltsc2016 images: '
                                         r'add buildPools: \{"windows/ltsc2016": <vmImage>\}'):
        plan_matrix(ws, ws.order(), 20)
    code, _, err = run_cli(["matrix", "--repo", str(repo), "--all"])
    assert code == 2 and "windows/ltsc2016" in err


def test_policy_refuses_a_malformed_pool(tmp_path):
    repo = windows_repo(tmp_path, 'buildPools: {"windows/ltsc 2022": "x"}\n')
    code, _, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 2 and "manifests/policy.yml" in err and "buildPools" in err


def test_cli_prints_json_and_azure_variables(tmp_path, monkeypatch):
    repo = workspace(tmp_path)
    code, out, err = run_cli(["matrix", "--repo", str(repo), "--all", "-o", "json"])
    assert code == 0, err
    data = json.loads(out)
    assert sorted(t for leg in data.values() for t in leg["images"].split(",")) == sorted(
        e["tagBase"] for e in sample_images())
    monkeypatch.setenv("TF_BUILD", "True")
    code, out, _ = run_cli(["matrix", "--repo", str(repo), "--all", "-o", "json"])
    variables = dict(re.findall(r"^##vso\[task\.setvariable variable=(\w+);isOutput=true\](.*)$", out, re.M))
    assert json.loads(variables["matrix"]) == data == json.loads(variables["level0"])
    assert variables["mode"] == "chain" and variables["legCount"] == "2" and variables["levelCount"] == "1"
    assert all(variables[f"level{k}"] == "{}" for k in range(1, MAX_LEVELS))
    code, out, _ = run_cli(["matrix", "--repo", str(repo), "--all", "--mode", "levels", "-o", "json"])
    variables = dict(re.findall(r"^##vso\[task\.setvariable variable=(\w+);isOutput=true\](.*)$", out, re.M))
    assert variables["mode"] == "levels" and variables["levelCount"] == "3" and variables["level3"] == "{}"
    assert [(leg["images"], leg["parents"]) for leg in json.loads(variables["level1"]).values()] == [
        ("base-tools-amd64", "base-amd64")]
    code, out, _ = run_cli(["matrix", "--repo", str(repo), "--since", "HEAD", "-o", "json"])
    assert code == 0 and "##vso[task.setvariable variable=legCount;isOutput=true]0" in out.splitlines()
    assert "##vso[task.setvariable variable=level0;isOutput=true]{}" in out.splitlines()


def test_split_cuts_a_family_and_gives_each_leg_its_ancestors(fleet):
    tagbases = fleet.order()
    result = plan_matrix(fleet, tagbases, 20, "split")
    assert result.mode == "split" and result.level_count == 1 and len(result.legs) <= 20
    built = [t for leg in result.legs for t in leg.images]
    assert set(built) == set(tagbases)
    for leg in result.legs:  # nothing crosses agents: every planned parent is earlier in the same leg
        for i, t in enumerate(leg.images):
            assert all(p in leg.images[:i] for p in fleet.parents_of(t) if p in set(tagbases)), (leg.name, t)
    chain = plan_matrix(fleet, tagbases, 20, "chain")
    assert result.critical_path() * 3 <= chain.critical_path()
    assert len(built) - len(tagbases) <= 0.1 * len(tagbases)  # the price: a few ancestors built twice


def test_split_of_a_small_plan_is_chain_per_leg(tmp_path):
    ws = Workspace.load(WorkTree(workspace(tmp_path)))
    split = plan_matrix(ws, ws.order(), 20, "split")
    chain = plan_matrix(ws, ws.order(), 20, "chain")
    assert sorted(leg.images for leg in split.legs) == sorted(leg.images for leg in chain.legs)
    one = plan_matrix(ws, ws.order(), 1, "split")
    assert len(one.legs) == 1 and sorted(one.legs[0].images) == sorted(ws.order())


def test_upstream_windows_versions_find_their_release_pool():
    from lifecycle.catalogue.policy import Policy
    from lifecycle.build.matrix_pools import pool_for
    from lifecycle.catalogue.platform import Platform

    policy = Policy(approved_bases=("x",), label_prefix="t")
    assert pool_for(Platform("windows", "amd64", None, "nanoserver-1809"), policy) == "windows-2019"
    assert pool_for(Platform("windows", "amd64", None, "windowsservercore-ltsc2022"), policy) == "windows-2022"
    with pytest.raises(InputError, match=r'buildPools: \{"windows/nanoserver-1903"'):
        pool_for(Platform("windows", "amd64", None, "nanoserver-1903"), policy)
