"""consumers scan/migrate on a local consumer checkout, through the CLI: only the reference text changes."""

from __future__ import annotations

import json

from tests.fixtures.consumers import EXPECTED, run_lifecycle, write_gitops
from tests.fixtures.gitrepo import git, make_repo


def _setup(tmp_path, sample):
    consumer = make_repo(tmp_path, sample.files(), name="consumer")
    gitops = tmp_path / "gitops"
    write_gitops(gitops, sample, "  - name: product\n    path: ../consumer\n")
    return gitops, consumer


def _files(repo, sample):
    return {path: (repo / path).read_bytes() for path in sample.files()}


def test_scan_json_lists_every_reference(tmp_path, consumer_sample):
    gitops, _ = _setup(tmp_path, consumer_sample)
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "--no-registry", "--output", "json",
                         "--usage-out", str(tmp_path / "usage.json"))
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["references"]
    assert {(r["file"], r["line"], r["kind"], r["form"]) for r in rows} == \
        {(e.path, e.line, e.kind, e.form) for e in EXPECTED}
    assert all(r["repository"] == "product" for r in rows)
    usage = json.loads((tmp_path / "usage.json").read_text())
    assert usage["version"] == 1 and usage["registryChecked"] is False
    assert usage["repository"] == consumer_sample.repository
    # comments and expressions pull nothing: they are not in the usage
    assert "ubuntu-22.04-amd64-20250101000000-deadbee" not in usage["tags"]
    assert "ubuntu-22.04-amd64-" not in usage["tags"]
    assert "centos-stream9-amd64-20250101000000-0123abc" in usage["tags"]
    assert usage["digests"] == ["sha256:" + "ab" * 32]


def test_scan_fail_on_and_markdown(tmp_path, consumer_sample):
    gitops, _ = _setup(tmp_path, consumer_sample)
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "--no-registry", "--output", "markdown",
                         "--fail-on", "eol")
    assert done.returncode == 1
    assert "| product | azure-pipelines.yml | 32 |" in done.stdout
    # printed once, in the markdown document (issue 11 item 6)
    assert done.stdout.count("centos-stream9-amd64 reached end-of-life on 2026-05-31") == 1
    assert "end-of-life" not in done.stderr


def test_dry_run_prints_the_diff_and_changes_nothing(tmp_path, consumer_sample):
    gitops, consumer = _setup(tmp_path, consumer_sample)
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--no-registry", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert git(consumer, "status", "--porcelain") == ""
    assert "--- a/product/eng/legs.yaml\n+++ b/product/eng/legs.yaml\n" in done.stdout
    old = consumer_sample.fill('-      image: \'{R}:ubuntu-22.04-amd64\'   # bare tag, quoted on purpose\n')
    new = consumer_sample.fill('+      image: \'{R}:ubuntu-22.04-amd64-latest\'   # bare tag, quoted on purpose\n')
    assert old in done.stdout and new in done.stdout
    removed = [l for l in done.stdout.splitlines() if l.startswith("-") and not l.startswith("---")]
    assert len(removed) == sum(1 for e in EXPECTED if e.migrated)


def test_migrate_rewrites_exactly_the_pinned_and_bare_references(tmp_path, consumer_sample):
    gitops, consumer = _setup(tmp_path, consumer_sample)
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--no-registry")
    assert done.returncode == 0, done.stderr
    # byte for byte: the original with each expected reference replaced on its line, nothing else
    assert _files(consumer, consumer_sample) == consumer_sample.migrated_files()
    changed = set(git(consumer, "diff", "--name-only").split())
    assert changed == {e.path for e in EXPECTED if e.migrated}
    # the word diff shows only reference substrings
    words = git(consumer, "diff", "--word-diff=porcelain", "--word-diff-regex=[^[:space:]'\"=@>]+")
    removed = sorted(l[1:] for l in words.splitlines() if l.startswith("-") and not l.startswith("---"))
    added = sorted(l[1:] for l in words.splitlines() if l.startswith("+") and not l.startswith("+++"))
    assert removed == sorted(consumer_sample.fill(e.text) for e in EXPECTED if e.migrated)
    assert added == sorted(consumer_sample.fill(e.migrated) for e in EXPECTED if e.migrated)
    assert b"\r\n" in (consumer / "eng/helix.props").read_bytes()

    again = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--no-registry")
    assert again.returncode == 0, again.stderr
    assert _files(consumer, consumer_sample) == consumer_sample.migrated_files()
    assert "(none)" in again.stdout


def test_missing_consumer_path_is_bad_input(tmp_path, consumer_sample):
    gitops = tmp_path / "gitops"
    write_gitops(gitops, consumer_sample, "  - name: product\n    path: ../nowhere\n")
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "--no-registry")
    assert done.returncode == 2
    assert "nowhere" in done.stderr
