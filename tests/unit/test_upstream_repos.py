"""Importing a product-shaped ImageBuilder manifest (tests/data/upstream-product): several registry
repositories in one manifest, parents across repositories (runtime on runtime-deps on the distro),
`$(...)` versions from an included variables file, Dockerfile templates, an orphan Dockerfile."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from lifecycle.catalogue.repositories import locate, tag_in
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.catalogs import run_cli
from tests.fixtures.gitrepo import commit_all, git, make_repo

DATA = Path(__file__).resolve().parents[1] / "data" / "upstream-product"
TARGET = "localhost:5000"
REPOS = ["dotnet/runtime-deps", "dotnet/runtime", "dotnet/aspnet", "dotnet/sdk", "dotnet/monitor"]
ORPHAN = "src/sdk/8.0/bookworm-slim-aot/amd64/Dockerfile"


def imported(tmp_path) -> tuple[Path, dict]:
    dest = make_repo(tmp_path, {"README.md": "# imported\n"}, name="dest")
    code, out, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest), "-o", "json",
                              "--registry", TARGET])
    assert code == 0, err
    commit_all(dest, "import")
    return dest, json.loads(out)


def plan(dest: Path, *selection: str) -> dict[str, list[str]]:
    code, out, err = run_cli(["plan", "--repo", str(dest), *selection, "-o", "json"])
    assert code == 0, err
    return {e["tagbase"]: e["parents"] for e in json.loads(out)["images"]}


def test_every_repository_is_imported_with_its_own_tags(tmp_path):
    dest, report = imported(tmp_path)
    data = yaml.safe_load((dest / "manifests/images.yml").read_text())
    assert data["repository"] == "dotnet/runtime-deps"
    assert data["aliases"] == [f"mcr.microsoft.com/{r}" for r in REPOS]
    by_repo: dict[str, list[str]] = {}
    for image in data["images"]:
        by_repo.setdefault(image.get("repository", data["repository"]), []).append(image["tagBase"])
    assert list(by_repo) == REPOS
    # the same tag in four repositories: unique per repository, versions resolved through the include
    for repo in REPOS[:3]:
        assert by_repo[repo] == ["8.0.11-bookworm-slim-amd64", "8.0.11-bookworm-slim-arm64v8", "8.0.11-alpine3.20-amd64"]
    assert by_repo["dotnet/sdk"] == ["8.0.404-bookworm-slim-amd64", "8.0.404-bookworm-slim-arm64v8"]
    assert by_repo["dotnet/monitor"] == ["8.1.0-amd64"]
    shared = data["sharedTags"]
    assert shared["8.0"] == ["8.0.11-bookworm-slim-amd64", "8.0.11-bookworm-slim-arm64v8"]  # the default repository's
    assert shared["dotnet/runtime:8.0"] == ["dotnet/runtime:8.0.11-bookworm-slim-amd64",
                                            "dotnet/runtime:8.0.11-bookworm-slim-arm64v8"]
    assert "dotnet/sdk:latest" not in shared and "dotnet/aspnet:latest" in shared
    assert [f for f in report["findings"] if f["kind"] == "unmapped"] == []
    notes = [f["what"] for f in report["findings"] if f["kind"] == "note"]
    assert sum("dockerfileTemplate" in n for n in notes) == 11  # every platform but monitor's
    assert report["images"][3:5] == ["dotnet/runtime:8.0.11-bookworm-slim-amd64",
                                     "dotnet/runtime:8.0.11-bookworm-slim-arm64v8"]
    assert not (dest / ORPHAN).exists()


def test_validate_and_cross_repository_edges(tmp_path):
    dest, _ = imported(tmp_path)
    code, out, err = run_cli(["validate", "--repo", str(dest)])
    assert code == 0, out + err
    edges = {t: p for t, p in plan(dest, "--all").items() if p}
    assert edges == {
        **{f"dotnet/runtime:8.0.11-{s}": [f"8.0.11-{s}"] for s in ("bookworm-slim-amd64", "bookworm-slim-arm64v8",
                                                                   "alpine3.20-amd64")},
        **{f"dotnet/aspnet:8.0.11-{s}": [f"dotnet/runtime:8.0.11-{s}"]
           for s in ("bookworm-slim-amd64", "bookworm-slim-arm64v8", "alpine3.20-amd64")},
        **{f"dotnet/sdk:8.0.404-{s}": [f"dotnet/aspnet:8.0.11-{s}"] for s in ("bookworm-slim-amd64",
                                                                             "bookworm-slim-arm64v8")},
        "dotnet/monitor:8.1.0-amd64": ["dotnet/aspnet:8.0.11-bookworm-slim-amd64"],
    }


def test_plan_since_lists_a_runtime_deps_change_and_exactly_its_descendants(tmp_path):
    dest, _ = imported(tmp_path)
    path = dest / "src/runtime-deps/8.0/bookworm-slim/amd64/Dockerfile"
    path.write_text(path.read_text() + "RUN echo patched\n")
    commit_all(dest, "runtime-deps: patch bookworm amd64")
    planned = plan(dest, "--since", "HEAD~1")
    assert sorted(planned) == sorted([
        "8.0.11-bookworm-slim-amd64", "dotnet/runtime:8.0.11-bookworm-slim-amd64",
        "dotnet/aspnet:8.0.11-bookworm-slim-amd64", "dotnet/monitor:8.1.0-amd64",
        "dotnet/sdk:8.0.404-bookworm-slim-amd64"])
    order = list(planned)  # build order: each image after its parent, across repositories
    assert all(order.index(p) < order.index(t) for t, parents in planned.items() for p in parents)


def test_in_place_import_excludes_the_orphan_and_validates(tmp_path):
    src = Path(shutil.copytree(DATA, tmp_path / "product"))
    code, out, err = run_cli(["import-manifest", str(src / "manifest.json"), "-o", "json"])
    assert code == 0, err
    assert json.loads(out)["excluded"] == {ORPHAN: "not named by the upstream manifest"}
    git(src, "init", "-q")
    commit_all(src, "import")
    code, out, err = run_cli(["validate", "--repo", str(src)])
    assert code == 0, out + err
    assert ORPHAN in out


def test_a_tag_twice_in_one_repository_is_still_a_clash(tmp_path):
    dest, _ = imported(tmp_path)
    path = dest / "manifests/images.yml"
    text = path.read_text()
    path.write_text(text.replace("tagBase: 8.0.404-bookworm-slim-arm64v8", "tagBase: 8.0.404-bookworm-slim-amd64"))
    commit_all(dest, "a duplicate in dotnet/sdk")
    code, out, err = run_cli(["validate", "--repo", str(dest)])
    assert code == 2 and "duplicate tag base 'dotnet/sdk:8.0.404-bookworm-slim-amd64'" in out + err


def test_every_imported_image_is_located_in_its_own_repository(tmp_path):
    """The flows that read and move tags find each image's repository through locate(): the imported
    product's images, cross-repository parents included, each in the repository its `repos[]` entry names."""
    dest, _ = imported(tmp_path)
    ws = Workspace.load(WorkTree(dest))
    catalog = ws.catalog
    seen = set()
    for image in catalog.images:
        repository, tag = locate(catalog, image.tagbase)
        assert (repository, tag) == (image.repository, image.tag)
        assert tag_in(catalog, image.tagbase, "staging") == (repository, f"{tag}-staging")
        assert catalog.reference_of(image, tag) == f"{TARGET}/{repository}:{tag}"
        seen.add(repository)
        for parent in ws.parents_of(image.tagbase):   # a parent's digest is read where the parent lives
            assert locate(catalog, parent)[0] == catalog.image(parent).repository
    assert seen == set(REPOS) and list(catalog.repositories) == REPOS


def test_reimport_keeps_local_keys_of_an_image_outside_the_default_repository(tmp_path):
    dest, _ = imported(tmp_path)
    path = dest / "manifests/images.yml"
    entry = "  - tagBase: 8.0.11-alpine3.20-amd64\n    repository: dotnet/aspnet\n"
    assert entry in path.read_text()
    path.write_text(path.read_text().replace(entry, entry + "    owners: [web]\n"))
    code, _, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest), "--registry", TARGET])
    assert code == 0, err
    data = yaml.safe_load(path.read_text())
    owned = [(i.get("repository"), i["tagBase"]) for i in data["images"] if i.get("owners")]
    assert owned == [("dotnet/aspnet", "8.0.11-alpine3.20-amd64")]  # not runtime-deps' image of the same tag


def test_update_is_a_minimal_idempotent_sync_keeping_local_additions(tmp_path):
    upstream = Path(shutil.copytree(DATA, tmp_path / "upstream"))
    dest = make_repo(tmp_path, {"README.md": "# imported\n"}, name="dest")
    args = ["import-manifest", str(upstream / "manifest.json"), "--dest", str(dest), "--registry", TARGET]
    code, _, err = run_cli(args)
    assert code == 0, err
    path = dest / "manifests/images.yml"
    # what the team adds here: a comment, owners, osUpgrade, an exclusion
    rd = "  - tagBase: 8.0.11-bookworm-slim-arm64v8\n"
    text = path.read_text().replace(rd, "  # arm64 runs on the emulated legs: keep it small\n" + rd, 1)
    text = text.replace(rd, rd + "    owners: [runtime-team]\n    osUpgrade: true\n", 1)
    text = text.replace("images:\n", "excluded:\n  - dockerfile: src/local/Dockerfile\n    reason: built by hand\n"
                                      "images:\n", 1)
    path.write_text(text)
    commit_all(dest, "local additions")
    before = path.read_text()
    # upstream moves on: monitor's repository goes, aspnet alpine gets a new floating tag, sdk gains alpine
    manifest = json.loads((upstream / "manifest.json").read_text())
    manifest["repos"] = [r for r in manifest["repos"] if r["name"] != "dotnet/monitor"]
    aspnet = next(r for r in manifest["repos"] if r["name"] == "dotnet/aspnet")
    aspnet["images"][1]["platforms"][0]["tags"]["8.0-alpine-amd64"] = {}
    sdk = next(r for r in manifest["repos"] if r["name"] == "dotnet/sdk")
    sdk["images"].append({"platforms": [{"dockerfile": "src/sdk/8.0/alpine3.20/amd64", "os": "linux",
                                         "tags": {"$(sdk|8.0|product-version)-alpine3.20-amd64": {}}}]})
    (upstream / "src/sdk/8.0/alpine3.20/amd64").mkdir(parents=True)
    (upstream / "src/sdk/8.0/alpine3.20/amd64/Dockerfile").write_text(
        "ARG REPO=mcr.microsoft.com/dotnet/aspnet\nFROM $REPO:8.0.11-alpine3.20-amd64\n")
    (upstream / "manifest.json").write_text(json.dumps(manifest, indent=2))

    code, out, err = run_cli([*args, "--update", "-o", "json"])
    assert code == 0, err
    changes = {(c["change"], c["image"]) for c in json.loads(out)["changes"]}
    assert changes == {("added", "dotnet/sdk:8.0.404-alpine3.20-amd64"),
                       ("changed", "dotnet/aspnet:8.0.11-alpine3.20-amd64"),
                       ("removed", "dotnet/monitor:8.1.0-amd64")}  # aliases are kept: the team may have added some
    after = path.read_text()
    # every line of the local additions, and every entry upstream did not touch, keeps its bytes
    block = before[before.index("  # arm64 runs"):before.index("  - tagBase: 8.0.11-alpine3.20-amd64\n")]
    assert "osUpgrade: true" in block and block in after
    assert "excluded:\n  - dockerfile: src/local/Dockerfile\n    reason: built by hand\n" in after
    assert "8.1.0-amd64" not in after and "[8.0-alpine3.20-amd64, 8.0-alpine-amd64, 8.0.11-alpine3.20" in after
    assert not (dest / "src/monitor").exists() and (dest / "src/sdk/8.0/alpine3.20/amd64/Dockerfile").is_file()
    changed_lines = [line for line in after.splitlines() if line not in before.splitlines()]
    assert len(changed_lines) < 25, changed_lines  # a diff, not a rewrite
    commit_all(dest, "sync with upstream")
    code, out, err = run_cli(["validate", "--repo", str(dest)])
    assert code == 0, out + err
    # twice: nothing changes
    code, out, err = run_cli([*args, "--update", "-o", "json"])
    assert code == 0, err
    assert json.loads(out)["changes"] == [] and path.read_text() == after
    code, out, err = run_cli(["import-manifest", str(upstream / "manifest.json"), "--dest", str(dest), "--update"])
    assert code == 0 and "Upstream changes (0)" in out, out + err


def test_update_without_a_catalogue_exits_2_and_writes_nothing(tmp_path):
    dest = make_repo(tmp_path, {"README.md": "x\n"}, name="dest")
    code, _, err = run_cli(["import-manifest", str(DATA / "manifest.json"), "--dest", str(dest), "--update"])
    assert code == 2 and "manifests/images.yml" in err and "--update needs an existing catalogue" in err
    assert git(dest, "status", "--porcelain") == ""
