"""consumers migrate and the registry (the real local one): with it, a reference is rewritten only to a
tag the registry has, and the others are reported; with --no-registry, every target tag is named in a
warning as unchecked."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_consumers import _setup
from tests.fixtures.consumers import EXPECTED, ConsumerSample, run_lifecycle, write_gitops
from tests.fixtures.gitrepo import git, make_repo

pytestmark = pytest.mark.e2e

HELIX_LATEST = "ubuntu-22.04-helix-amd64-latest"        # the one target the registry does not have
TARGETS = {e.migrated.rsplit(":", 1)[1] for e in EXPECTED if e.migrated}
MOVES_TO = {t: sum(1 for e in EXPECTED if e.migrated and e.migrated.endswith(":" + t)) for t in TARGETS}


def _files(repo, sample: ConsumerSample) -> dict[str, bytes]:
    return {p: (repo / p).read_bytes() for p in sample.files()}


def test_no_registry_warns_once_per_target_tag_it_could_not_verify(tmp_path, registry, unique_repo):
    sample, _, gitops, consumer = _setup(tmp_path, registry, unique_repo)
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--no-registry")
    assert done.returncode == 0, done.stderr
    warned = [l for l in done.stderr.splitlines() if "was not checked in the registry (--no-registry)" in l]
    assert sorted(l.split()[1] for l in warned) == sorted(TARGETS), done.stderr   # `warning: <tag> was ...`
    for tag, count in MOVES_TO.items():
        assert any(l.startswith(f"warning: {tag} was not checked") and f": {count} reference(s) are" in l
                   for l in warned), (tag, warned)
    # unchecked means unchecked: the tag the registry lacks is written too, as the warning says
    assert _files(consumer, sample) == sample.migrated_files()
    assert HELIX_LATEST in (consumer / "eng/legs.yaml").read_text()
    # a dry run says "would be", and a run with the registry warns about none of this
    dry = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--no-registry", "--dry-run")
    assert "(none)" in dry.stdout and "was not checked" not in dry.stderr    # nothing left to rewrite


def test_no_registry_dry_run_names_the_unchecked_targets(tmp_path, registry, unique_repo):
    sample, _, gitops, consumer = _setup(tmp_path, registry, unique_repo)
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--no-registry", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"warning: {HELIX_LATEST} was not checked in the registry (--no-registry): " \
           f"{MOVES_TO[HELIX_LATEST]} reference(s) would be rewritten" in done.stderr
    assert git(consumer, "status", "--porcelain") == ""


def test_with_the_registry_a_missing_target_is_reported_never_written(tmp_path, registry, unique_repo):
    sample, _, gitops, consumer = _setup(tmp_path, registry, unique_repo)
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "-o", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["registryChecked"] is True
    helix = sorted((e.path, e.line) for e in EXPECTED if e.migrated and e.migrated.endswith(":" + HELIX_LATEST))
    assert sorted((r["file"], r["line"]) for r in result["leftAlone"]) == helix
    assert all(r["reason"] == f"{HELIX_LATEST} is not in the registry" for r in result["leftAlone"])
    assert not any(r["to"].endswith(":" + HELIX_LATEST) for r in result["edits"])
    for path, line in helix:
        assert f"product:{path}:{line}: " in done.stderr and "left alone" in done.stderr
    assert "was not checked" not in done.stderr
    assert _files(consumer, sample) == sample.migrated_files(skip_targets=frozenset({HELIX_LATEST}))
    assert HELIX_LATEST not in (consumer / "eng/legs.yaml").read_text()


def test_a_registry_without_our_images_rewrites_nothing(tmp_path, registry, unique_repo):
    sample = ConsumerSample(registry.host, unique_repo)          # nothing pushed to this repository
    consumer = make_repo(tmp_path, sample.files(), name="consumer")
    gitops = tmp_path / "gitops"
    write_gitops(gitops, sample, "  - name: product\n    path: ../consumer\n")
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "-o", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["edits"] == []
    assert len(result["leftAlone"]) == sum(1 for e in EXPECTED if e.migrated)
    assert git(consumer, "status", "--porcelain") == ""
    assert _files(consumer, sample) == {p: t for p, t in sample.files().items()}
