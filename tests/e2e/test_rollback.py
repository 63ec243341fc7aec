"""Rollback end to end: revert on production (push or pull request through an Azure DevOps stand-in),
and the emergency retag from the journal or the registry history."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lifecycle.azdo import AzureDevOps, RepoRef, Secret
from lifecycle.production.gitops import GitOps
from lifecycle.production.journal import Journal
from lifecycle.production.reconcile import reconcile
from lifecycle.production.rollback import emergency, revert_commit
from lifecycle.production.rollout import rollout
from lifecycle.sample import PARENT, SOLO
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.gitops_origin import quiet

SOLO_DF = "src/busybox/1.0/solo/amd64/Dockerfile"

pytestmark = pytest.mark.e2e



def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lifecycle", *args], capture_output=True, text=True, timeout=300)



@pytest.fixture
def rolled(gitops_origin, registry, client, tmp_path):
    """v1 rolled out, then v2 of SOLO rolled out with a journal."""
    origin = gitops_origin(registry.host)
    c1 = origin.commit({"README.md": "v1\n"}, "v1")
    v1 = origin.publish_synthetic(client, c1)
    rollout(GitOps(origin.agent), client, quiet())
    c2 = origin.commit({SOLO_DF: origin.show(c1, SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    journal = tmp_path / "journal.json"
    rollout(GitOps(origin.agent), client, quiet(), journal_path=journal)
    assert client.try_resolve(origin.repository, f"{SOLO}-latest") == v2[SOLO]
    return origin, v1, v2, journal


def latest(client, origin, tagbase: str, suffix: str = "-latest") -> str | None:
    return client.try_resolve(origin.repository, tagbase + suffix)


def test_emergency_restores_the_previous_digest_from_the_journal(rolled, client):
    origin, v1, v2, journal = rolled
    run = cli("rollback", "--repo", str(origin.agent), "--image", SOLO, "--emergency", "--journal", str(journal))
    assert run.returncode == 0, run.stderr
    assert latest(client, origin, SOLO) == v1[SOLO] and latest(client, origin, SOLO, "") == v1[SOLO]
    assert latest(client, origin, SOLO, "-staging") == v2[SOLO]
    assert latest(client, origin, PARENT) == v1[PARENT]
    assert "must still be reverted" in run.stderr
    assert Journal.read(journal).commit[:10] in run.stderr


def test_emergency_without_a_journal_uses_the_registry_history(rolled, client):
    origin, v1, v2, _ = rolled
    ws = Workspace.load(WorkTree(origin.agent))
    dry = emergency(ws, client, SOLO, dry_run=True)
    assert {e.tag: (e.previous, e.new, e.status) for e in dry.entries} == {
        f"{SOLO}-latest": (v2[SOLO], v1[SOLO], "would-move"), SOLO: (v2[SOLO], v1[SOLO], "would-move")}
    assert latest(client, origin, SOLO) == v2[SOLO]
    result = emergency(ws, client, SOLO)
    assert result.ok and "registry history" in result.source
    assert latest(client, origin, SOLO) == v1[SOLO] == latest(client, origin, SOLO, "")


def test_emergency_rejects_a_journal_that_is_not_json(rolled, tmp_path):
    origin, *_ = rolled
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    run = cli("rollback", "--repo", str(origin.agent), "--image", SOLO, "--emergency", "--journal", str(bad))
    assert run.returncode == 2 and "not JSON" in run.stderr and str(bad) in run.stderr


def test_rollback_commit_push_reverts_the_merge_and_reconcile_restores_v1(rolled, client):
    origin, v1, v2, _ = rolled
    merge = origin.head("production")
    before_merge = origin.parents(merge)[0]
    dry = cli("rollback", "--repo", str(origin.agent), "--commit", merge, "--push", "--dry-run", "--output", "json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["files"] == [SOLO_DF] and origin.head("production") == merge

    run = cli("rollback", "--repo", str(origin.agent), "--commit", merge, "--push")
    assert run.returncode == 0, run.stderr
    revert = origin.head("production")
    assert origin.parents(revert) == [merge]
    assert origin.tree(revert) == origin.tree(before_merge)
    assert f"This reverts commit {merge}" in origin.message(revert)
    report = reconcile(GitOps(origin.agent), client, quiet())
    assert report.ok and latest(client, origin, SOLO) == v1[SOLO]
    assert latest(client, origin, SOLO, "-staging") == v2[SOLO]


def test_rollback_commit_refuses_what_production_never_received(rolled, client):
    origin, *_ = rolled
    unreleased = origin.commit({"README.md": "later\n"}, "not rolled out")
    run = cli("rollback", "--repo", str(origin.agent), "--commit", unreleased, "--push")
    assert run.returncode == 2 and "is not on production" in run.stderr


def test_rollback_commit_as_a_pull_request(rolled, azdo_server):
    origin, *_ = rolled
    merge = origin.head("production")
    fake = azdo_server.add_repository("proj", "prereqs", {"README.md": b"x"}, branch="production")
    ado = AzureDevOps(Secret(azdo_server.token))
    repo = RepoRef(azdo_server.organization_url, "proj", "prereqs")

    def create(source: str, target: str, title: str, body: str) -> tuple[int, str]:
        fake.branches[f"refs/heads/{source}"] = fake.branches["refs/heads/production"]  # git push reached it
        return ado.create_pull_request(repo, source, target, title, body)

    result = revert_commit(GitOps(origin.agent), merge, mode="pull-request", create_pull_request=create)
    assert origin.head("production") == merge   # production itself is untouched until the PR merges
    assert result.branch.startswith(f"rollback/{merge[:10]}-")
    assert origin.head(result.branch) == result.revert and origin.parents(result.revert) == [merge]
    assert origin.tree(result.revert) == origin.tree(origin.parents(merge)[0])
    posts = azdo_server.calls("POST", "pullrequests")
    assert len(posts) == 1 and posts[0].authorized
    body = posts[0].body
    assert body["sourceRefName"] == f"refs/heads/{result.branch}"
    assert body["targetRefName"] == "refs/heads/production"
    assert body["title"].startswith(f"Roll back {merge[:10]}") and merge in body["description"]
    assert "/proj/_apis/git/repositories/prereqs/pullrequests" in posts[0].path.lower()
    assert result.pull_request == (101, f"{repo.web_url}/pullrequest/101")


def test_rollback_one_image_reverts_only_it_and_the_next_rollout_holds_it(gitops_origin, registry, client):
    origin = gitops_origin(registry.host)
    c1 = origin.commit({"README.md": "v1\n"}, "v1")
    v1 = origin.publish_synthetic(client, c1)
    rollout(GitOps(origin.agent), client, quiet())
    parent_df = "src/busybox/1.0/amd64/Dockerfile"
    c2 = origin.commit({SOLO_DF: origin.show(c1, SOLO_DF).replace("solo v1", "solo v2"),
                        parent_df: origin.show(c1, parent_df).replace("parent v1", "parent v2")}, "solo and parent v2")
    v2 = origin.publish_synthetic(client, c2)
    rollout(GitOps(origin.agent), client, quiet())
    merge = origin.head("production")

    run = cli("rollback", "--repo", str(origin.agent), "--image", SOLO, "--push", "--emergency")
    assert run.returncode == 0, run.stderr
    revert = origin.head("production")
    assert origin.parents(revert) == [merge]
    assert f"This reverts commit {merge} for {SOLO} only" in origin.message(revert)
    assert origin.tree(revert, "src/busybox/1.0/solo/amd64") == origin.tree(c1, "src/busybox/1.0/solo/amd64")
    assert origin.tree(revert, "src/busybox/1.0/amd64") == origin.tree(c2, "src/busybox/1.0/amd64")
    assert latest(client, origin, SOLO) == v1[SOLO]              # at once, from the registry history
    assert latest(client, origin, PARENT) == v2[PARENT]
    assert "must still be reverted" not in run.stderr

    report = reconcile(GitOps(origin.agent), client, quiet())    # what production's pipeline then does
    assert report.ok and latest(client, origin, SOLO) == v1[SOLO] and latest(client, origin, PARENT) == v2[PARENT]
    origin.commit({"README.md": "next week\n"}, "docs")
    result = rollout(GitOps(origin.agent), client, quiet())
    assert set(result.plan.holds) == {SOLO} and latest(client, origin, SOLO) == v1[SOLO]


def _two_rollouts(origin, client, journal) -> tuple[dict[str, str], dict[str, str]]:
    """v1 rolled out, then v2 of SOLO rolled out with `journal`: (v1 digests, v2 digests)."""
    c1 = origin.commit({"README.md": "v1\n"}, "v1")
    v1 = origin.publish_synthetic(client, c1)
    rollout(GitOps(origin.agent), client, quiet())
    c2 = origin.commit({SOLO_DF: origin.show(c1, SOLO_DF).replace("solo v1", "solo v2")}, "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    rollout(GitOps(origin.agent), client, quiet(), journal_path=journal)
    return v1, v2


def test_emergency_refuses_the_journal_of_another_gitops_repository_before_any_registry_call(
        gitops_origin, registry, fault_proxy, tmp_path):
    """Two GitOps repositories with the same tag bases in two registry repositories: ours talks to the
    registry through a proxy that counts requests. Their journal is refused (exit 2, naming the journal and
    what differs) with no request sent and nothing reverted; an old journal without the binding is refused
    too, unless --legacy-journal."""
    from lifecycle.registry import RegistryClient

    ours, theirs = gitops_origin(fault_proxy.host), gitops_origin(registry.host)
    their_journal, our_journal = tmp_path / "theirs.json", tmp_path / "ours.json"
    with RegistryClient(fault_proxy.host) as via_proxy, registry.client() as direct:
        _, their_v2 = _two_rollouts(theirs, direct, their_journal)
        v1, v2 = _two_rollouts(ours, via_proxy, our_journal)
        assert Journal.read(their_journal).entry(f"{SOLO}-latest").previous   # it would retag, if let through
        production = ours.head("production")
        fault_proxy.reset()
        for extra in ((), ("--push",), ("--dry-run",)):
            run = cli("rollback", "--repo", str(ours.agent), "--image", SOLO, "--emergency",
                      "--journal", str(their_journal), *extra)
            assert run.returncode == 2, run.stderr
            assert f"{their_journal}: this journal belongs to another repository" in run.stderr
            assert f"repository {theirs.repository} (this repository: {ours.repository})" in run.stderr
            assert "Traceback" not in run.stderr
        assert fault_proxy.requests == 0 and ours.head("production") == production

        legacy = json.loads(our_journal.read_text())
        for key in ("registry", "repository", "source"):
            del legacy[key]
        legacy["version"] = 1
        old = tmp_path / "old.json"
        old.write_text(json.dumps(legacy))
        run = cli("rollback", "--repo", str(ours.agent), "--image", SOLO, "--emergency", "--journal", str(old))
        assert run.returncode == 2 and str(old) in run.stderr and "--legacy-journal" in run.stderr, run.stderr
        assert fault_proxy.requests == 0
        assert via_proxy.resolve(ours.repository, f"{SOLO}-latest") == v2[SOLO]

        run = cli("rollback", "--repo", str(ours.agent), "--image", SOLO, "--emergency", "--journal", str(old),
                  "--legacy-journal")
        assert run.returncode == 0, run.stderr
        assert via_proxy.resolve(ours.repository, f"{SOLO}-latest") == v1[SOLO]
        assert direct.resolve(theirs.repository, f"{SOLO}-latest") == their_v2[SOLO]
