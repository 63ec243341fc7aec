"""Consumer config errors name the file as the user gave it (`--config ../nightly.yml`), or
`manifests/consumers.yml` by default, with the line of the key at fault."""

from __future__ import annotations

import pytest

from tests.fixtures.consumers import run_lifecycle, write_gitops

NIGHTLY = (
    "# the nightly consumers: a checkout beside the GitOps repository\n"
    "registryAliases: [mcr.microsoft.com]\n"
    "\n"
    "repositories:\n"
    "  - name: nightly\n"
    "    # a checkout that is not there\n"
    "    include: ['*.yml']\n"
    "    path: ../missing-checkout\n"
)
PATH_LINE = 8


def _gitops(tmp_path, sample):
    gitops = tmp_path / "gitops"
    write_gitops(gitops, sample, "  - name: product\n    path: .\n")
    return gitops


@pytest.mark.parametrize("verb", ["scan", "migrate"])
def test_a_missing_path_names_the_given_config_and_the_line_of_path(tmp_path, consumer_sample, verb):
    gitops = _gitops(tmp_path, consumer_sample)
    (tmp_path / "nightly.yml").write_text(NIGHTLY, encoding="utf-8")
    done = run_lifecycle("consumers", verb, "--repo", ".", "--config", "../nightly.yml", "--no-registry",
                         cwd=gitops)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"../nightly.yml:{PATH_LINE}: repository nightly: path " in done.stderr, done.stderr
    assert "missing-checkout is not a directory" in done.stderr
    assert "consumers.yml" not in done.stderr


def test_the_path_is_named_exactly_as_given(tmp_path, consumer_sample):
    gitops = _gitops(tmp_path, consumer_sample)
    (gitops / "nightly.yml").write_text(NIGHTLY, encoding="utf-8")
    done = run_lifecycle("consumers", "scan", "--repo", ".", "--config", "./nightly.yml", "--no-registry",
                         cwd=gitops)
    assert done.returncode == 2
    assert f"./nightly.yml:{PATH_LINE}: repository nightly" in done.stderr, done.stderr


def test_the_default_config_is_named_manifests_consumers_yml(tmp_path, consumer_sample):
    gitops = tmp_path / "gitops"
    write_gitops(gitops, consumer_sample, "  - name: product\n    include: ['*.yml']\n    path: ../nowhere\n")
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "--no-registry")
    assert done.returncode == 2
    # write_gitops: a comment, registryAliases, repositories:, then the entry; `path:` is its third line
    assert "manifests/consumers.yml:6: repository product: path " in done.stderr, done.stderr
    assert str(gitops / "manifests") not in done.stderr


@pytest.mark.parametrize("text,line,needle", [
    (NIGHTLY.replace("    path: ../missing-checkout\n", "    path: ../x\n    branch: main\n"), 9,
     "unknown key 'branch'"),
    (NIGHTLY + "  - name: nightly\n    path: .\n", 9, "repository name 'nightly' is used twice"),
    ("repositories: [\n", 2, ""),
])
def test_other_config_errors_name_the_given_file_too(tmp_path, consumer_sample, text, line, needle):
    gitops = _gitops(tmp_path, consumer_sample)
    (tmp_path / "nightly.yml").write_text(text, encoding="utf-8")
    done = run_lifecycle("consumers", "scan", "--repo", ".", "--config", "../nightly.yml", "--no-registry",
                         cwd=gitops)
    assert done.returncode == 2, done.stderr
    assert f"../nightly.yml:{line}" in done.stderr and needle in done.stderr, done.stderr
    assert "consumers.yml" not in done.stderr and "Traceback" not in done.stderr


def test_a_config_that_is_not_there_is_named_as_given(tmp_path, consumer_sample):
    gitops = _gitops(tmp_path, consumer_sample)
    done = run_lifecycle("consumers", "scan", "--repo", ".", "--config", "../nope.yml", "--no-registry",
                         cwd=gitops)
    assert done.returncode == 2
    assert "../nope.yml" in done.stderr and "consumers.yml" not in done.stderr, done.stderr
