"""`lifecycle validate` on real repositories: every bad input exits 2, names file and line, writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.validation import validate
from tests.fixtures.catalogs import OURS, catalog_yaml, image, run_cli, sample_files, sample_images
from tests.fixtures.gitrepo import git, make_repo


def snapshot(repo) -> dict[str, bytes]:
    return {p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}


def assert_rejected(tmp_path, changes: dict, *expected: str) -> str:
    files = {**sample_files(), **changes}
    repo = make_repo(tmp_path, {k: v for k, v in files.items() if v is not None})
    before = snapshot(repo)
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    text = out + err
    assert code == 2, text
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert snapshot(repo) == before and git(repo, "status", "--porcelain") == ""
    return text


def test_sample_repository_is_valid(tmp_path):
    repo = make_repo(tmp_path, sample_files())
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 0, out + err
    assert "ok: 5 images" in err


def test_malformed_yaml_names_file_line_column(tmp_path):
    broken = catalog_yaml(sample_images()).replace('tagBase: "base-tools-amd64"', "tagBase: [base-tools-amd64", 1)
    assert_rejected(tmp_path, {"manifests/images.yml": broken}, "manifests/images.yml:", "malformed YAML")


def test_unknown_key_names_key_and_line(tmp_path):
    images = sample_images()
    images[2]["maintainer"] = "someone"
    text = assert_rejected(tmp_path, {"manifests/images.yml": catalog_yaml(images)}, "unknown key 'maintainer'")
    line = catalog_yaml(images).splitlines().index('    maintainer: "someone"') + 1
    assert f"manifests/images.yml:{line}:5" in text


def test_unapproved_base_in_a_middle_stage(tmp_path):
    dockerfile = ("FROM mcr.microsoft.com/azurelinux/base/core:3.0 AS one\n"
                  "FROM docker.io/library/alpine:3.20 AS two\n"
                  "FROM mcr.microsoft.com/azurelinux/base/core:3.0\nCOPY --from=two / /\n")
    assert_rejected(tmp_path, {"src/base/amd64/Dockerfile": dockerfile},
                    "src/base/amd64/Dockerfile:2", "docker.io/library/alpine:3.20", "stage 1 (two)", "not an approved base")


def test_unapproved_copy_from_image(tmp_path):
    dockerfile = "FROM mcr.microsoft.com/azurelinux/base/core:3.0\nCOPY --from=busybox:latest /bin/sh /sh\n"
    assert_rejected(tmp_path, {"src/base/amd64/Dockerfile": dockerfile},
                    "src/base/amd64/Dockerfile:2", "COPY --from busybox:latest")


def test_cycle_is_named(tmp_path):
    assert_rejected(tmp_path, {"src/base/amd64/Dockerfile": f"FROM {OURS}:base-tools-helix-amd64\n"},
                    "dependency cycle", "base-amd64", "base-tools-amd64", "base-tools-helix-amd64")


def test_missing_dockerfile(tmp_path):
    assert_rejected(tmp_path, {"src/ubuntu/amd64/Dockerfile": None},
                    "manifests/images.yml:", "no Dockerfile at src/ubuntu/amd64/Dockerfile")


def test_duplicate_tag_base(tmp_path):
    images = sample_images() + [image("src/ubuntu/amd64", arch="arm64")]
    text = assert_rejected(tmp_path, {"manifests/images.yml": catalog_yaml(images)}, "duplicate tag base 'ubuntu-amd64'")
    assert "manifests/images.yml:" in text


def test_dockerfile_without_from(tmp_path):
    assert_rejected(tmp_path, {"src/ubuntu/amd64/Dockerfile": "# nothing here\nRUN true\n"},
                    "src/ubuntu/amd64/Dockerfile:2", "RUN before the first FROM")
    assert_rejected(tmp_path / "2", {"src/ubuntu/amd64/Dockerfile": "ARG X=1\n"},
                    "src/ubuntu/amd64/Dockerfile", "no FROM instruction")


def test_tag_base_is_free_of_its_folder(tmp_path):
    images = sample_images()
    images[4]["tagBase"] = "ubuntu-22.04-amd64"
    repo = make_repo(tmp_path, {**sample_files(), "manifests/images.yml": catalog_yaml(images)})
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 0, out + err


def test_uncatalogued_dockerfile(tmp_path):
    assert_rejected(tmp_path, {"src/orphan/amd64/Dockerfile": "FROM mcr.microsoft.com/azurelinux/base/core:3.0\n"},
                    "src/orphan/amd64/Dockerfile", "not in the catalogue")


def test_in_repo_reference_to_unknown_tag(tmp_path):
    assert_rejected(tmp_path, {"src/ubuntu/amd64/Dockerfile": f"FROM {OURS}:base-amd64-latest\n"},
                    "src/ubuntu/amd64/Dockerfile:1", "'base-amd64-latest' is neither a tag base nor a shared tag")


def test_build_arg_missing_for_from(tmp_path):
    assert_rejected(tmp_path, {"src/ubuntu/amd64/Dockerfile": "ARG BASE\nFROM $BASE\n"},
                    "src/ubuntu/amd64/Dockerfile:2", "build arg missing")


def test_policy_bad_pattern(tmp_path):
    assert_rejected(tmp_path, {"manifests/policy.yml": "approvedBases: ['mcr.microsoft.com/[x']\nlabelPrefix: a\n"},
                    "manifests/policy.yml:1", "unbalanced")


def test_end_of_life_is_a_warning_only(tmp_path):
    images = sample_images()
    images[4]["endOfLife"] = "2020-01-01"
    repo = make_repo(tmp_path, {**sample_files(), "manifests/images.yml": catalog_yaml(images)})
    ws = validate(WorkTree(repo), today=dt.date(2026, 1, 1))
    assert ws.errors == []
    assert [(p.severity, "ubuntu-amd64 reached end of life" in p.message) for p in ws.problems] == [("warning", True)]


@pytest.mark.parametrize("tag", ["-leading-dash", "has space", "x" * 129])
def test_invalid_shared_tags(tmp_path, tag):
    images = sample_images()
    images[4]["sharedTags"] = [tag]
    ws_repo = make_repo(tmp_path, {**sample_files(), "manifests/images.yml": catalog_yaml(images)})
    ws = validate(WorkTree(ws_repo))
    assert any("is not a valid tag" in p.message for p in ws.errors)


def test_consumers_file_is_validated_with_its_line(tmp_path):
    files = {**sample_files(), "manifests/consumers.yml": "repositories:\n  - name: app\n    pathh: ../app\n"}
    repo = make_repo(tmp_path, files)
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 2 and "manifests/consumers.yml:3:5: unknown key 'pathh'" in out  # the table: once


def test_a_dockerfile_git_ignores_is_not_part_of_the_repository(tmp_path):
    """What .gitignore hides never reaches a commit: validate must not see it in the working tree either."""
    repo = make_repo(tmp_path, sample_files())
    (repo / ".gitignore").write_text("build/\n")
    folder = next(p for p in sample_files() if p.endswith("/Dockerfile")).rsplit("/", 1)[0]
    ignored = repo / "src" / "build" / "amd64"
    ignored.mkdir(parents=True)
    (ignored / "Dockerfile").write_text((repo / folder / "Dockerfile").read_text())
    code, _out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 0, err  # the ignored Dockerfile is not an uncatalogued one: it is not there at all
    git(repo, "rm", "-q", "--cached", f"{folder}/Dockerfile")
    (repo / ".gitignore").write_text(f"build/\n{folder}/Dockerfile\n")
    code, out, err = run_cli(["validate", "--repo", str(repo)])
    assert code == 2 and f"no Dockerfile at {folder}/Dockerfile (missing, or ignored by git)" in out
