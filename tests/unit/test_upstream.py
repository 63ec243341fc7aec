"""`lifecycle import-manifest` on an upstream-shaped repository (tests/data/upstream), then validate, plan and
matrix with no hand edit: the tag set survives, in-repo edges are found through the public-mirror alias,
and bases outside the approved list become waivers."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from lifecycle.errors import InputError
from lifecycle.catalogue.upstream import expand, load_manifest, map_manifest
from tests.fixtures.catalogs import run_cli
from tests.fixtures.gitrepo import commit_all, git, make_repo

DATA = Path(__file__).resolve().parents[1] / "data" / "upstream"
APPROVED = ["mcr.microsoft.com/azurelinux/base/core:3.0", "mcr.microsoft.com/mirror/docker/library/ubuntu:22.04"]
POLICY = [a for b in APPROVED for a in ("--policy-base", b)]
TARGET = "localhost:5000"  # the catalogue pushes here; the Dockerfiles name the public mirror
MIRROR = "mcr.microsoft.com/dotnet-buildtools/prereqs"


def upstream_copy(tmp_path) -> Path:
    return Path(shutil.copytree(DATA, tmp_path / "upstream"))


def import_into_new_repo(tmp_path, *extra):
    dest = make_repo(tmp_path, {"README.md": "# imported\n"}, name="dest")
    code, out, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest), "-o", "json",
                              "--registry", TARGET, *POLICY, *extra])
    assert code == 0, err
    commit_all(dest, "import")
    return dest, json.loads(out)


def upstream_tags() -> tuple[set[str], set[str]]:
    """Re-read the manifest independently of the importer: (published tags of every platform and every
    shared tag, as spelled with variables resolved; prefixes of the $(System:...) tags)."""
    main = json.loads((DATA / "manifest.json").read_text())
    variables = dict(main["variables"])
    files = [main] + [json.loads((DATA / inc).read_text()) for inc in main["includes"]]

    def resolve(text: str) -> str:
        for _ in range(5):
            text = re.sub(r"\$\(([^():]+)\)", lambda m: variables.get(m.group(1), m.group(0)), text)
        return text

    floating, immutable = set(), set()
    for document in files:
        for repo in document["repos"]:
            for image in repo["images"]:
                tag_maps = [image.get("sharedTags", {})] + [p["tags"] for p in image["platforms"]]
                for tags in tag_maps:
                    for tag, info in tags.items():
                        if info.get("isLocal"):
                            continue
                        value = resolve(tag)
                        if "$(System:" in value:
                            immutable.add(value[: value.index("$(")].rstrip("-"))
                        elif "$(" not in value:
                            floating.add(value)
    return floating, immutable


def catalogue(dest: Path) -> dict:
    import yaml

    return yaml.safe_load((dest / "manifests/images.yml").read_text())


def test_every_upstream_tag_survives_exactly(tmp_path):
    dest, report = import_into_new_repo(tmp_path)
    data = catalogue(dest)
    ours = {i["tagBase"] for i in data["images"]} | {t for i in data["images"] for t in i.get("sharedTags", [])} \
        | set(data.get("sharedTags", {}))
    floating, immutable = upstream_tags()
    assert ours == floating  # nothing renamed, nothing lost, nothing invented
    assert immutable <= {i["tagBase"] for i in data["images"]}  # <tagbase>-<timestamp>-<sha> replaces them
    # exactly one thing could not be mapped: the tag spelled with an undefined variable
    assert [(f["kind"], f["what"]) for f in report["findings"] if f["kind"] == "unmapped"] == [
        ("unmapped", "tag 'fedora-rawhide-amd64-$(NotDefined)': variable(s) NotDefined not defined")]
    assert [f["where"] for f in report["findings"] if f["kind"] == "orphan"] == ["src/debian/12/orphan/amd64/Dockerfile"]
    assert not (dest / "src/debian").exists() and report["excluded"] == {}  # not copied, so nothing to exclude


def test_catalogue_shape(tmp_path):
    dest, report = import_into_new_repo(tmp_path)
    data = catalogue(dest)
    images = {i["tagBase"]: i for i in data["images"]}
    assert data["registry"] == TARGET and data["aliases"] == [MIRROR]
    # one folder, three platforms (one spelled with a trailing slash, one with ./), a tag per platform
    helix = [t for t, i in images.items() if i["dockerfile"] == "src/ubuntu/22.04/helix"]
    assert helix == ["ubuntu-22.04-helix-amd64", "ubuntu-22.04-helix-arm64v8", "ubuntu-22.04-helix-arm32v7"]
    assert [images[t]["platform"] for t in helix] == [
        {"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "arm64", "variant": "v8"},
        {"os": "linux", "architecture": "arm", "variant": "v7"}]
    assert data["sharedTags"]["ubuntu-22.04-helix"] == helix
    # one Dockerfile, four build-arg variants ($(CMakeVersion) resolved)
    net = {t: i["buildArgs"] for t, i in images.items() if i["dockerfile"] == "src/azurelinux/3.0/net/build/amd64"}
    assert net == {f"azurelinux-3.0-net{v}-build-amd64": {"NET_VERSION": v, "CMAKE_VERSION": "3.30.3"}
                   for v in ("8.0", "9.0", "10.0", "11.0")}
    # a platform with three tags, one spelled with $(AzureLinuxAlias)
    assert images["azurelinux-3.0-amd64"]["sharedTags"] == ["azurelinux-3.0", "azurelinux-3.0-cbl"]
    # Windows: catalogued with their OS versions; two OS versions under one shared tag
    assert images["nanoserver-ltsc2022-helix-amd64"]["platform"] == {
        "os": "windows", "architecture": "amd64", "osVersion": "nanoserver-ltsc2022"}
    assert data["sharedTags"]["nanoserver-helix-amd64"] == ["nanoserver-1809-helix-amd64",
                                                             "nanoserver-ltsc2022-helix-amd64"]
    assert "windowsservercore-ltsc2022-helix-amd64" in images
    assert (dest / "src/azurelinux/3.0/net/build/amd64/install-cmake.sh").is_file()
    assert any(f["kind"] == "note" and "isLocal" in f["what"] for f in report["findings"])


def test_import_validate_plan_matrix_with_no_edit(tmp_path):
    dest, _ = import_into_new_repo(tmp_path)
    code, out, err = run_cli(["validate", "--repo", str(dest)])
    assert code == 0, out + err
    code, out, err = run_cli(["plan", "--repo", str(dest), "--all", "-o", "json"])
    assert code == 0, err
    plan = {e["tagbase"]: e for e in json.loads(out)["images"]}
    assert len(plan) == 17
    edges = {t: e["parents"] for t, e in plan.items() if e["parents"]}
    assert edges == {
        **{f"azurelinux-3.0-net{v}-build-amd64": ["azurelinux-3.0-amd64"] for v in ("8.0", "9.0", "10.0", "11.0")},
        # FROM <mirror>:ubuntu-22.04-helix, a multi-platform shared tag: each platform's own parent
        "ubuntu-22.04-helix-python-amd64": ["ubuntu-22.04-helix-amd64"],
        "ubuntu-22.04-helix-python-arm64v8": ["ubuntu-22.04-helix-arm64v8"],
        "ubuntu-24.04-helix-amd64": ["ubuntu-24.04-amd64"],
        "ubuntu-24.04-helix-webassembly-amd64": ["ubuntu-24.04-helix-amd64"],
    }
    code, out, err = run_cli(["matrix", "--repo", str(dest), "--all", "-o", "json"])
    assert code == 0, err
    legs = json.loads(out)
    text = json.dumps(legs)
    assert all(t in text for t in plan)  # every image, Windows included, is on some leg


def test_bases_outside_the_approved_list_become_waivers(tmp_path):
    dest, _ = import_into_new_repo(tmp_path, "--waiver-days", "30", "--waiver-reason", "https://tracker/42")
    import yaml

    policy = yaml.safe_load((dest / "manifests/policy.yml").read_text())
    assert policy["approvedBases"] == APPROVED  # kept as given: nothing the import found is approved
    waivers = {w["base"]: w for w in policy["waivers"]}
    assert {b: w["images"] for b, w in waivers.items()} == {
        "ubuntu.azurecr.io/ubuntu:24.04": ["ubuntu-24.04-amd64"],
        "mcr.microsoft.com/windows/nanoserver:1809": ["nanoserver-1809-helix-amd64"],
        "mcr.microsoft.com/windows/nanoserver:ltsc2022": ["nanoserver-ltsc2022-helix-amd64"],
        "mcr.microsoft.com/windows/servercore:ltsc2022": ["windowsservercore-ltsc2022-helix-amd64"],
        "library/fedora:rawhide": ["fedora-rawhide-amd64"],
    }
    expires = dt.date.today() + dt.timedelta(days=30)
    assert all(str(w["expires"]) == str(expires) and w["reason"] == "https://tracker/42" for w in waivers.values())
    code, out, err = run_cli(["validate", "--repo", str(dest)])
    assert code == 0, err
    assert "Waivers (5)" in out and "ubuntu.azurecr.io/ubuntu:24.04" in out and " 30 " in out


def test_an_expired_waiver_fails_validate(tmp_path):
    dest, _ = import_into_new_repo(tmp_path)
    path = dest / "manifests/policy.yml"
    text = path.read_text()
    expires = str(dt.date.today() + dt.timedelta(days=90))
    first, rest = text.split(f"expires: {expires}", 1)
    path.write_text(first + "expires: 2020-01-01" + rest)
    commit_all(dest, "expire one waiver")
    code, out, err = run_cli(["validate", "--repo", str(dest)])
    assert code == 2
    assert "src/ubuntu/24.04/Dockerfile:1" in out + err and "waiver expired on 2020-01-01" in out + err
    line = path.read_text().splitlines().index("  - base: ubuntu.azurecr.io/ubuntu:24.04") + 1
    assert f"manifests/policy.yml:{line}" in out + err


def test_without_a_list_every_base_is_waived_and_an_existing_policy_is_kept(tmp_path):
    dest = make_repo(tmp_path, {"manifests/policy.yml": "approvedBases: ['mcr.microsoft.com/azurelinux/*']\n"
                                                        "labelPrefix: team.images\nmaxAgeDays: 7\n"}, name="dest")
    code, out, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest),
                              "--registry", TARGET])
    assert code == 0, err
    import yaml

    policy = yaml.safe_load((dest / "manifests/policy.yml").read_text())
    assert policy["approvedBases"] == ["mcr.microsoft.com/azurelinux/*"] and policy["maxAgeDays"] == 7
    assert "mcr.microsoft.com/mirror/docker/library/ubuntu:22.04" in {w["base"] for w in policy["waivers"]}
    assert "mcr.microsoft.com/azurelinux/base/core:3.0" not in {w["base"] for w in policy["waivers"]}
    commit_all(dest, "import")
    code, out, err = run_cli(["validate", "--repo", str(dest)])
    assert code == 0, out + err


def test_in_place_import_excludes_the_orphan_and_validates_with_no_edit(tmp_path):
    src = upstream_copy(tmp_path)
    code, out, err = run_cli(["import-manifest", str(src / "manifest.json"), *POLICY, "-o", "json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["copied"] == [] and report["aliases"] == []  # pushes where the manifest says: no alias
    orphan = "src/debian/12/orphan/amd64/Dockerfile"
    assert report["excluded"] == {orphan: "not named by the upstream manifest"}
    assert catalogue(src)["excluded"] == [{"dockerfile": orphan, "reason": "not named by the upstream manifest"}]
    git(src, "init", "-q")
    commit_all(src, "import")
    code, out, err = run_cli(["validate", "--repo", str(src)])
    assert code == 0, out + err
    assert "Excluded Dockerfiles (1)" in out and orphan in out and "not named by the upstream manifest" in out
    # a new Dockerfile nobody catalogued or excluded still fails, named
    (src / "src/debian/12/newcomer").mkdir(parents=True)
    (src / "src/debian/12/newcomer/Dockerfile").write_text("FROM debian:12\n")
    commit_all(src, "a new uncatalogued Dockerfile")
    code, out, err = run_cli(["validate", "--repo", str(src)])
    assert code == 2 and "src/debian/12/newcomer/Dockerfile" in out and "Dockerfile is not in the catalogue" in out
    assert orphan not in out.split("Excluded Dockerfiles")[0]


def test_exclusion_rules(tmp_path):
    """An excluded Dockerfile that an image builds too is an error; one that is gone is a warning."""
    src = upstream_copy(tmp_path)
    code, _, err = run_cli(["import-manifest", str(src / "manifest.json"), *POLICY])
    assert code == 0, err
    path = src / "manifests/images.yml"
    path.write_text(path.read_text().replace(
        "excluded:\n", "excluded:\n  - dockerfile: src/ubuntu/24.04/Dockerfile\n    reason: replaced\n"
                      "  - dockerfile: src/gone/Dockerfile\n    reason: removed upstream\n", 1))
    git(src, "init", "-q")
    commit_all(src, "exclusions")
    from lifecycle.catalogue.source import WorkTree
    from lifecycle.catalogue.validation import validate

    ws = validate(WorkTree(src))
    lines = path.read_text().splitlines()
    assert [(str(p.location), p.message) for p in ws.errors] == [
        (f"manifests/images.yml:{lines.index('  - dockerfile: src/ubuntu/24.04/Dockerfile') + 1}",
         "excluded Dockerfile src/ubuntu/24.04/Dockerfile is built by an image too: remove one of the two")]
    assert any(p.severity == "warning" and p.message.startswith("excluded Dockerfile src/gone/Dockerfile does not "
                                                                "exist") for p in ws.problems)
    # a re-import keeps the team's exclusions byte for byte and adds none twice
    code, _, err = run_cli(["import-manifest", str(src / "manifest.json"), *POLICY])
    assert code == 0, err
    text = path.read_text()
    assert "  - dockerfile: src/gone/Dockerfile\n    reason: removed upstream\n" in text
    assert text.count("src/debian/12/orphan/amd64/Dockerfile") == 1


def test_reimport_keeps_owners_tests_and_end_of_life(tmp_path):
    dest, _ = import_into_new_repo(tmp_path)
    path = dest / "manifests/images.yml"
    path.write_text(path.read_text().replace(
        "  - tagBase: ubuntu-24.04-amd64\n",
        "  - tagBase: ubuntu-24.04-amd64\n    owners: [infra]\n    tests: [git --version]\n    endOfLife: 2027-07-31\n"))
    path.write_text(path.read_text().replace(f"aliases:\n  - {MIRROR}\n",
                                             f"aliases:\n  - {MIRROR}\n  - mirror.example/dotnet-buildtools/prereqs\n"))
    code, _, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest), "--registry", TARGET])
    assert code == 0, err
    text = path.read_text()
    assert catalogue(dest)["aliases"] == [MIRROR, "mirror.example/dotnet-buildtools/prereqs"]
    assert ("    platform: {os: linux, architecture: amd64}\n    tests: [git --version]\n    owners: [infra]\n"
            "    endOfLife: 2027-07-31\n") in text
    policy = (dest / "manifests/policy.yml").read_text()
    assert policy.count("base: ubuntu.azurecr.io/ubuntu:24.04") == 1  # the waiver is not written twice


def test_dry_run_writes_nothing(tmp_path):
    dest = make_repo(tmp_path, {"README.md": "x\n"}, name="dest")
    code, out, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest), "--dry-run"])
    assert code == 0, err
    assert "tagBase: azurelinux-3.0-amd64" in out and "would write" in out + err
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
        "repos": [{"name": "other/repo", "images": [{"platforms": [{"dockerfile": "src/ubuntu/22.04/helix",
                                                                    "os": "linux", "tags": {}}]}]}]}))
    manifest = load_manifest(src / "manifest.json")
    assert [name for name, _ in manifest.repos] == ["dotnet-buildtools/prereqs", "other/repo"]
    result = map_manifest(manifest)  # every repo is imported; its tagless platform is reported
    assert result.repository == "dotnet-buildtools/prereqs"
    assert [f.what for f in result.unmapped if "no published tag" in f.what] == [
        "src/ubuntu/22.04/helix/Dockerfile: no published tag, so no tag base"]
    other = map_manifest(manifest, repository="other/repo")  # --repository chooses the default repository
    assert other.repository == "other/repo"
    assert {e.get("repository") for e in other.images} == {"dotnet-buildtools/prereqs"}


def test_waivers_for_unknown_images_or_unused_bases_are_warnings(tmp_path):
    dest, _ = import_into_new_repo(tmp_path)
    path = dest / "manifests/policy.yml"
    text = path.read_text().replace("images: [fedora-rawhide-amd64]", "images: [fedora-rawhide-amd64, ghost]")
    path.write_text(text)
    (dest / "src/ubuntu/24.04/Dockerfile").write_text("FROM mcr.microsoft.com/azurelinux/base/core:3.0\n")
    commit_all(dest, "a waiver names a ghost; ubuntu 24.04 moved to an approved base")
    from lifecycle.catalogue.source import WorkTree
    from lifecycle.catalogue.validation import validate

    ws = validate(WorkTree(dest))
    assert ws.errors == []
    warnings = sorted(p.message for p in ws.problems if p.severity == "warning")
    assert warnings == ["waiver for library/fedora:rawhide names ghost, not in the catalogue",
                        "waiver for ubuntu.azurecr.io/ubuntu:24.04: no image uses that base any more; remove the waiver"]


def test_nested_folders_three_deep_after_import(tmp_path):
    """src/ubuntu/24.04 > helix > webassembly/amd64: each folder defines its own image only."""
    dest, _ = import_into_new_repo(tmp_path)

    def planned_after(path: str) -> list[str]:
        (dest / path).write_text((dest / path).read_text() + "RUN echo changed\n")
        commit_all(dest, f"change {path}")
        code, out, err = run_cli(["plan", "--repo", str(dest), "--since", "HEAD~1", "-o", "json"])
        assert code == 0, err
        return [e["tagbase"] for e in json.loads(out)["images"]]

    assert planned_after("src/ubuntu/24.04/helix/webassembly/amd64/Dockerfile") == [
        "ubuntu-24.04-helix-webassembly-amd64"]
    assert planned_after("src/ubuntu/24.04/helix/Dockerfile") == [
        "ubuntu-24.04-helix-amd64", "ubuntu-24.04-helix-webassembly-amd64"]
    assert planned_after("src/ubuntu/22.04/helix/Dockerfile") == [  # one folder, three platforms, their children
        "ubuntu-22.04-helix-amd64", "ubuntu-22.04-helix-arm64v8", "ubuntu-22.04-helix-arm32v7",
        "ubuntu-22.04-helix-python-amd64", "ubuntu-22.04-helix-python-arm64v8"]
