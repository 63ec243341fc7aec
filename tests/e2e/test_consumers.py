"""consumers scan/migrate against the real local registry, and the usage file protecting digests from cleanup."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.consumers import DIGEST, EXPECTED, ConsumerSample, run_lifecycle, write_gitops
from tests.fixtures.gitrepo import make_repo
from tests.fixtures.images import push_image

pytestmark = pytest.mark.e2e

# what the registry holds for the sample: image name -> its tags; "gone" is pushed, then deleted
IMAGES = {
    "azurelinux": ["azurelinux-3.0-net9.0-build-amd64-latest", "azurelinux-3.0-net9.0-build-amd64-20260301120000-abc1234"],
    "ubuntu": ["ubuntu-22.04-amd64", "ubuntu-22.04-amd64-latest", "ubuntu-22.04-amd64-staging"],
    "gone": ["ubuntu-22.04-amd64-20260201000000-1111111"],
    "debian": ["debian-12-helix-arm64v8", "debian-12-helix-arm64v8-latest",
               "debian-12-helix-arm64v8-20260310080000-fedcba9"],
    "helix": ["ubuntu-22.04-helix-amd64"],            # no -latest: migrate must leave these alone
    "centos": ["centos-stream9-amd64-latest"],        # the pinned centos tag was never pushed
}


def _publish(client, repo: str) -> dict[str, str]:
    digests = {}
    for name, tags in IMAGES.items():
        digests[name] = push_image(client, repo, tags[0], labels={"image": name})
        for tag in tags[1:]:
            client.retag(repo, digests[name], tag)
    client.delete(repo, digests["gone"])
    return digests


def _setup(tmp_path, registry, unique_repo):
    sample = ConsumerSample(registry.host, unique_repo)
    with registry.client() as client:
        digests = _publish(client, unique_repo)
    consumer = make_repo(tmp_path, sample.files(), name="consumer")
    gitops = tmp_path / "gitops"
    write_gitops(gitops, sample, "  - name: product\n    path: ../consumer\n")
    return sample, digests, gitops, consumer


def _expected_class(e, present: set[str]) -> str:
    if e.form == "expression":
        return "expression"
    ref = e.text.format(R="r", M="m", DIGEST=DIGEST)
    tag = None if "@" in ref else ref.rsplit(":", 1)[1]
    return e.klass if tag in present else "missing"


def test_scan_classifies_against_the_registry(tmp_path, registry, unique_repo):
    sample, digests, gitops, _ = _setup(tmp_path, registry, unique_repo)
    usage_file = tmp_path / "usage.json"
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "-o", "json", "--usage-out", str(usage_file))
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["references"]
    present = {t for name, tags in IMAGES.items() if name != "gone" for t in tags}
    got = {(r["file"], r["line"]): r["class"] for r in rows}
    want = {(e.path, e.line): _expected_class(e, present) for e in EXPECTED}
    assert got == want
    # the deleted pinned tag is what makes these two missing
    assert got[("eng/docker/Dockerfile", 3)] == got[("eng/legs.yaml", 4)] == "missing"
    assert "1111111" not in done.stderr  # each reference once: in the JSON document (issue 11 item 6)

    usage = json.loads(usage_file.read_text())
    assert usage["registryChecked"] is True and usage["registry"] == registry.host
    live = {digests[n] for n in IMAGES if n not in ("gone", "centos")}  # centos: only its missing pin is used
    assert live <= set(usage["digests"])
    assert digests["gone"] not in usage["digests"]
    by_line = {(u["file"], u["line"]): u for u in usage["references"]}
    assert by_line[("azure-pipelines.yml", 8)]["resolved"] == digests["azurelinux"]


def test_migrate_rewrites_only_to_tags_the_registry_has(tmp_path, registry, unique_repo):
    sample, _, gitops, consumer = _setup(tmp_path, registry, unique_repo)
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops))
    assert done.returncode == 0, done.stderr
    expected = sample.migrated_files(skip_targets=frozenset({"ubuntu-22.04-helix-amd64-latest"}))
    assert {p: (consumer / p).read_bytes() for p in expected} == expected
    assert "ubuntu-22.04-helix-amd64-latest is not in the registry" in done.stderr
    again = run_lifecycle("consumers", "migrate", "--repo", str(gitops))
    assert again.returncode == 0, again.stderr
    assert {p: (consumer / p).read_bytes() for p in expected} == expected


POLICY = """\
approvedBases: ['*']
labelPrefix: org.example.lifecycle
retention: {days: 90, keepLast: 1}
"""


def test_usage_file_protects_in_use_digests_from_cleanup(tmp_path, registry, unique_repo):
    sample = ConsumerSample(registry.host, unique_repo)
    base = "ubuntu-22.04-amd64"
    tags = {"by-digest": f"{base}-20250101000000-aaaaaaa", "by-tag": f"{base}-20250201000000-bbbbbbb",
            "unused": f"{base}-20250301000000-ccccccc", "newest": f"{base}-20261101000000-ddddddd"}
    with registry.client() as client:
        digests = {k: push_image(client, unique_repo, t, labels={"k": k}) for k, t in tags.items()}
        client.retag(unique_repo, digests["newest"], f"{base}-latest")
    ref = f"{registry.host}/{unique_repo}"
    make_repo(tmp_path, {
        "pipeline.yml": f"jobs:\n  - job: a\n    container: {ref}@{digests['by-digest']}\n",
        "Dockerfile": f"FROM {ref}:{tags['by-tag']}\n",
    }, name="consumer")
    gitops = tmp_path / "gitops"
    write_gitops(gitops, sample, "  - name: product\n    path: ../consumer\n")
    (gitops / "manifests" / "policy.yml").write_text(POLICY, encoding="utf-8")
    usage_file = tmp_path / "usage.json"
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "--usage-out", str(usage_file))
    assert done.returncode == 0, done.stderr
    now = "2026-11-27T00:00:00Z"

    # without the usage file cleanup would delete all three old images: the protection is the usage file's
    plain = run_lifecycle("cleanup", "--repo", str(gitops), "--now", now, "-o", "json")
    assert plain.returncode == 0, plain.stderr
    would = {o["digest"] for o in json.loads(plain.stdout)["outcomes"] if o["status"] == "would-delete"}
    assert would == {digests["by-digest"], digests["by-tag"], digests["unused"]}

    applied = run_lifecycle("cleanup", "--repo", str(gitops), "--now", now, "--apply", "--usage", str(usage_file))
    assert applied.returncode == 0, applied.stderr
    with registry.client() as client:
        left = set(client.tags(unique_repo))
        assert client.try_resolve(unique_repo, digests["by-digest"]) == digests["by-digest"]
        assert client.try_resolve(unique_repo, digests["unused"]) is None
    assert left == {tags["by-digest"], tags["by-tag"], tags["newest"], f"{base}-latest"}
