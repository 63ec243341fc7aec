"""`lifecycle retire` on a real git repository: one commit, the rest of images.yml byte-identical."""

from __future__ import annotations

import json

import git
import pytest

from lifecycle.catalogue.catalog import parse_catalog
from lifecycle.cleanup.retire import remove_catalog_entry
from tests.fixtures.gitrepo import make_repo
from tests.fixtures.lifecycle_repo import policy_yaml, run_cli

pytestmark = pytest.mark.e2e

REG = "registry.test:5000"
CATALOG = f"""\
# yaml-language-server: $schema=../scripts/lifecycle/schemas/images.schema.json
# The image catalogue.
registry: {REG}
repository: team/images
images:
  # --- base OS images ---
  - tagBase: os-1.0-amd64
    dockerfile: src/os/1.0/amd64
    platform: {{os: linux, architecture: amd64}}   # flow map kept as written
    tests: ["true"]

  - tagBase: os-1.0-build-amd64
    dockerfile: src/os/1.0/build/amd64
    platform: {{os: linux, architecture: amd64}}
    buildArgs: {{X: "1"}}

  # --- old ones ---
  - tagBase: old-2.0-amd64      # EOL soon
    dockerfile: "src/old/2.0/amd64"
    platform:
      os: linux
      architecture: amd64
    endOfLife: 2020-01-01

  - tagBase: last-1.0-arm64
    dockerfile: src/last/1.0/arm64
    platform: {{os: linux, architecture: arm64}}
# trailing comment
"""
FILES = {
    "manifests/images.yml": CATALOG,
    "manifests/policy.yml": policy_yaml(approved="registry.test:5000/base/*"),
    "src/os/1.0/amd64/Dockerfile": "FROM registry.test:5000/base/os:1\n",
    "src/os/1.0/build/amd64/Dockerfile": f"FROM {REG}/team/images:os-1.0-amd64\n",
    "src/old/2.0/amd64/Dockerfile": "FROM registry.test:5000/base/os:1\n",
    "src/old/2.0/amd64/setup.sh": "echo hi\n",
    "src/last/1.0/arm64/Dockerfile": "FROM registry.test:5000/base/os:1\n",
}


def removed_lines(old: str, new: str) -> list[str]:
    """`new` must be `old` with one contiguous run of lines cut out; return that run."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    prefix = 0
    while prefix < len(b) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = len(b) - prefix
    assert a[len(a) - suffix:] == b[prefix:], "lines outside the removed entry changed"
    return a[prefix:len(a) - suffix]


@pytest.mark.parametrize("tagbase", ["old-2.0-amd64", "last-1.0-arm64", "os-1.0-build-amd64"])
def test_remove_entry_keeps_every_other_byte(tagbase):
    new = remove_catalog_entry(CATALOG, tagbase)
    cut = removed_lines(CATALOG, new)
    assert any(f"tagBase: {tagbase}" in line for line in cut)
    assert not any("tagBase:" in line and tagbase not in line for line in cut)
    assert "# --- old ones ---\n" in new and "# trailing comment\n" in new
    assert [i.tagbase for i in parse_catalog(new).images] == \
        [i.tagbase for i in parse_catalog(CATALOG).images if i.tagbase != tagbase]
    assert "\n\n\n" not in new


def test_retire_commits_once_and_lists_consumers(tmp_path, capsys):
    repo = make_repo(tmp_path, FILES)
    head = git.Repo(repo).head.commit
    usage = tmp_path / "usage.json"
    usage.write_text(json.dumps({"version": 1, "tags": ["old-2.0-amd64-latest", "os-1.0-amd64-latest"], "digests": [],
                                 "references": [
                                     {"repository": "runtime", "file": "eng/ci.yml", "line": 8,
                                      "reference": f"{REG}/team/images:old-2.0-amd64-latest",
                                      "tag": "old-2.0-amd64-latest", "digest": None, "resolved": None,
                                      "class": "latest"},
                                     {"repository": "sdk", "file": "Dockerfile", "line": 1,
                                      "reference": f"{REG}/team/images:os-1.0-amd64-latest",
                                      "tag": "os-1.0-amd64-latest", "digest": None, "resolved": None,
                                      "class": "latest"}]}))

    code, out, err = run_cli(capsys, "retire", "--no-registry", "old-2.0-amd64", "--repo", str(repo), "--usage", str(usage),
                             "--dry-run", "--output", "json")
    assert code == 0, err
    dry = json.loads(out)
    assert dry["commit"] is None and sorted(dry["removed_files"]) == ["src/old/2.0/amd64/Dockerfile",
                                                                      "src/old/2.0/amd64/setup.sh"]
    assert git.Repo(repo).head.commit == head and (repo / "manifests/images.yml").read_text() == CATALOG

    code, out, err = run_cli(capsys, "retire", "--no-registry", "old-2.0-amd64", "--repo", str(repo), "--usage", str(usage))
    assert code == 0, err
    assert "runtime" in out and "eng/ci.yml" in out and "sdk" not in out  # sdk uses another image
    r = git.Repo(repo)
    commit = r.head.commit
    assert list(commit.parents) == [head]
    assert commit.message.startswith("Retire old-2.0-amd64\n")
    assert "runtime: eng/ci.yml:8" in commit.message and "sdk" not in commit.message
    changed = sorted(commit.stats.files)
    assert changed == ["manifests/images.yml", "src/old/2.0/amd64/Dockerfile", "src/old/2.0/amd64/setup.sh"]
    assert not (repo / "src/old").exists()
    assert removed_lines(CATALOG, (repo / "manifests/images.yml").read_text())
    assert not r.is_dirty(untracked_files=True)
    code, out, err = run_cli(capsys, "validate", "--repo", str(repo), "--no-pipelines")
    assert code == 0, err + out


def test_retire_refuses_an_image_with_children(tmp_path, capsys):
    repo = make_repo(tmp_path, FILES)
    head = git.Repo(repo).head.commit
    code, out, err = run_cli(capsys, "retire", "--no-registry", "os-1.0-amd64", "--repo", str(repo))
    assert code == 2
    assert "os-1.0-build-amd64" in err and "src/os/1.0/amd64/Dockerfile" in err
    assert git.Repo(repo).head.commit == head and (repo / "manifests/images.yml").read_text() == CATALOG
    code, out, err = run_cli(capsys, "retire", "--no-registry", "nope-1.0-amd64", "--repo", str(repo))
    assert code == 2 and "nope-1.0-amd64" in err
