"""Consumers across branches: scan reads main and release/* from git objects (no checkout changes),
migrate moves each branch to its own .NET version's floating tag (else -latest), one branch or pull request
per branch, pins untouched unless --unpin; pins reported with their age and gated by --fail-on."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest

from tests.fixtures.consumers import run_lifecycle
from tests.fixtures.images import push_image

pytestmark = pytest.mark.e2e

OLD, NEW, NET8 = "alpine-3.20-helix-amd64", "alpine-3.21-helix-amd64", "alpine-3.19-helix-amd64"
F9, F10 = "alpine-net9.0-helix-amd64", "alpine-net10.0-helix-amd64"
PINNED = f"{OLD}-20260101000000-abc1234"
BRANCHES = ("main", "release/9.0", "release/8.0")


def git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def pipeline(r: str, digest: str, branch: str) -> str:
    return (f"# CI of {branch}\njobs:\n  - job: Test\n    container: {r}:{PINNED}   # old pin by tag\n"
            f"  - job: Pinned\n    container: {r}:{OLD}@{digest}   # tracked in issue 42\n")


def write_gitops(root, registry: str, repo: str, consumer) -> None:
    (root / "manifests").mkdir(parents=True)
    images = "".join(f"  - tagBase: {t}\n    dockerfile: src/alpine/{t.split('-')[1]}/helix/amd64\n"
                     f"    platform: {{os: linux, architecture: amd64}}\n" for t in (OLD, NEW, NET8))
    (root / "manifests/images.yml").write_text(f"registry: {registry}\nrepository: {repo}\nimages:\n{images}")
    (root / "manifests/policy.yml").write_text(
        'approvedBases: ["x"]\nlabelPrefix: test\ndotnetVersions:\n  "8.0": {endOfLife: 2026-11-10}\n'
        '  "9.0": {endOfLife: 2028-05-12}\n  "10.0": {endOfLife: 2028-11-14}\n')
    (root / "manifests/floating.yml").write_text(
        f'floatingTags:\n  - {{tag: {F9}, target: {NEW}, dotnet: "9.0"}}\n'
        f'  - {{tag: {F10}, target: {NEW}, dotnet: "10.0"}}\n')
    (root / "manifests/consumers.yml").write_text(
        f"repositories:\n  - name: product\n    path: {consumer}\n    branches: [main, \"release/*\"]\n")


@pytest.fixture
def fleet(tmp_path, registry, unique_repo):
    """The registry holding the tags the branches use and the migration targets; a consumer clone with
    three branches, whose checkout is main with a local edit that must survive everything."""
    with registry.client() as client:
        created = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=45)
        old = push_image(client, unique_repo, PINNED, labels={"v": "old"}, created=created)
        client.retag(unique_repo, old, OLD)
        new = push_image(client, unique_repo, f"{NEW}-latest", labels={"v": "new"})
        for tag in (F9, F10, f"{OLD}-latest"):
            client.retag(unique_repo, new if tag != f"{OLD}-latest" else old, tag)
    r = f"{registry.host}/{unique_repo}"
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    git(consumer, "init", "-q", "-b", "main")
    git(consumer, "config", "user.name", "Product Team")
    git(consumer, "config", "user.email", "product@example.invalid")
    for branch in BRANCHES:
        git(consumer, "checkout", "-q", "-B", branch, "main") if branch != "main" else None
        (consumer / "azure-pipelines.yml").write_text(pipeline(r, old, branch))
        git(consumer, "add", "-A")
        git(consumer, "commit", "-q", "-m", f"pipeline of {branch}")
    git(consumer, "checkout", "-q", "main")
    (consumer / "azure-pipelines.yml").write_text("local edit, not committed\n")
    gitops = tmp_path / "gitops"
    write_gitops(gitops, registry.host, unique_repo, consumer)
    return gitops, consumer, r, old


def heads(repo) -> dict[str, str]:
    return dict(line.split() for line in git(repo, "for-each-ref", "--format=%(refname:short) %(objectname)",
                                              "refs/heads").splitlines())


def test_scan_reads_every_branch_without_a_checkout_and_reports_pins(fleet, tmp_path):
    gitops, consumer, r, old = fleet
    before = heads(consumer)
    usage = tmp_path / "usage.json"
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "-o", "json", "--usage-out", str(usage))
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["references"]
    assert sorted({(x["branch"], x["line"], x["class"]) for x in rows}) == sorted(
        (b, line, klass) for b in BRANCHES for line, klass in ((4, "pinned"), (6, "digest")))
    pins = [x for x in rows if x["class"] == "digest"]
    assert all("(45 days ago)" in x["note"] for x in pins), pins
    entries = json.loads(usage.read_text())["references"]
    assert {(e["repository"], e["branch"], e["file"], e["line"]) for e in entries} == {
        ("product", b, "azure-pipelines.yml", line) for b in BRANCHES for line in (4, 6)}
    assert old in json.loads(usage.read_text())["digests"]
    assert heads(consumer) == before and (consumer / "azure-pipelines.yml").read_text() == "local edit, not committed\n"
    by_image = run_lifecycle("consumers", "scan", "--repo", str(gitops), "-o", "json", "--by-image")
    images = {x["image"]: x for x in json.loads(by_image.stdout)["images"]}
    assert images[OLD]["references"] == 6 and "product@release/8.0 (digest, pinned)" in images[OLD]["used_by"]
    gate = run_lifecycle("consumers", "scan", "--repo", str(gitops), "--fail-on", "pinned-older-than=30d")
    assert gate.returncode == 1 and "3 reference(s) fail pinned-older-than=30d" in gate.stderr
    assert run_lifecycle("consumers", "scan", "--repo", str(gitops), "--fail-on", "pinned-older-than=60d").returncode == 0
    bad = run_lifecycle("consumers", "scan", "--repo", str(gitops), "--fail-on", "pinned-older-than=soon")
    assert bad.returncode == 2 and "pinned-older-than=<days>d" in bad.stderr


def test_migrate_moves_each_branch_to_its_dotnet_floating_tag(fleet):
    gitops, consumer, r, old = fleet
    before = heads(consumer)
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "-o", "json")
    assert done.returncode == 0, done.stderr
    after = heads(consumer)
    expected = {"main": F10, "release/9.0": F9, "release/8.0": f"{OLD}-latest"}
    for branch, target in expected.items():
        name = f"lifecycle/migrate-to-latest/{branch}"
        assert git(consumer, "rev-parse", f"{name}^") .strip() == before[branch]
        text = git(consumer, "show", f"{name}:azure-pipelines.yml")
        assert text == pipeline(r, old, branch).replace(f"{r}:{PINNED}", f"{r}:{target}")   # the pin stays
    assert {b: after[b] for b in BRANCHES} == {b: before[b] for b in BRANCHES}
    assert (consumer / "azure-pipelines.yml").read_text() == "local edit, not committed\n"
    again = run_lifecycle("consumers", "migrate", "--repo", str(gitops))
    assert again.returncode == 1 and "exists already" in again.stderr


def test_unpin_moves_pins_too(fleet):
    gitops, consumer, r, old = fleet
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--unpin", "--branch", "unpin")
    assert done.returncode == 0, done.stderr
    text = git(consumer, "show", "unpin/release/9.0:azure-pipelines.yml")
    assert f"{r}:{OLD}@{old}" not in text and text.count(f"{r}:{F9}") == 2


def test_one_pull_request_per_azure_devops_branch(tmp_path, fleet, azdo_server):
    gitops, consumer, r, old = fleet
    files = {b: {"azure-pipelines.yml": pipeline(r, old, b).encode()} for b in BRANCHES}
    repo = azdo_server.add_repository("Product", "product-repo", files["main"])
    for branch in BRANCHES[1:]:
        repo.add_branch(branch, files[branch])
    repo.add_branch("feature/x", files["main"])          # not a pattern of the consumers file: not scanned
    (gitops / "manifests/consumers.yml").write_text(
        "repositories:\n  - name: product\n    azureDevOps:\n"
        f"      organization: {azdo_server.organization_url}\n      project: Product\n"
        "      repository: product-repo\n    branches: [main, \"release/*\"]\n")
    env = {"AZURE_DEVOPS_EXT_PAT": azdo_server.token, "SYSTEM_ACCESSTOKEN": "",
           "AZURE_DEVOPS_CACHE_DIR": str(tmp_path / "azdo-cache")}
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--pull-request", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    prs = {pr.target: pr for pr in repo.pull_requests}
    assert set(prs) == {f"refs/heads/{b}" for b in BRANCHES}
    expected = {"main": F10, "release/9.0": F9, "release/8.0": f"{OLD}-latest"}
    for branch, target in expected.items():
        pr = prs[f"refs/heads/{branch}"]
        assert pr.source == f"refs/heads/lifecycle/migrate-to-latest/{branch}"
        new = repo.files_at(f"lifecycle/migrate-to-latest/{branch}")["azure-pipelines.yml"].decode()
        assert new == pipeline(r, old, branch).replace(f"{r}:{PINNED}", f"{r}:{target}")
    assert repo.files_at("release/9.0") == files["release/9.0"]          # the scanned branches are untouched
