"""Azure DevOps mode against the local stand-in: files read, branch pushed, pull request opened."""

from __future__ import annotations

import base64
import json

import pytest

from lifecycle.azdo import AzureDevOps, RepoRef, Secret, token_from_env
from lifecycle.errors import InputError, OperationError
from tests.fixtures.consumers import EXPECTED, azdo_gitops, run_lifecycle

BRANCH = "refs/heads/lifecycle/migrate-to-latest"


def test_scan_reads_every_file_at_the_branch_head(tmp_path, consumer_sample, azdo_server):
    gitops, repo, env = azdo_gitops(tmp_path, consumer_sample, azdo_server)
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "--no-registry", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["references"]
    assert {(r["file"], r["line"], r["kind"], r["form"]) for r in rows} == \
        {(e.path, e.line, e.kind, e.form) for e in EXPECTED}
    head = repo.branches["refs/heads/main"]
    reads = azdo_server.calls("GET", "/items")
    listing = [r for r in reads if "path" not in r.query]
    files = [r for r in reads if "path" in r.query]
    assert len(listing) == 1 and listing[0].query["recursionLevel"] == "Full"
    assert sorted(r.query["path"] for r in files) == sorted("/" + p for p in consumer_sample.files())
    assert {r.query["versionDescriptor.version"] for r in reads} == {head}
    assert {r.route for r in reads} == {"/Product/_apis/git/repositories/product-repo/items"}
    assert all(r.authorized for r in azdo_server.requests)
    assert not azdo_server.calls("POST")
    assert azdo_server.token not in done.stdout + done.stderr


def test_migrate_pushes_a_branch_and_opens_a_pull_request(tmp_path, consumer_sample, azdo_server):
    gitops, repo, env = azdo_gitops(tmp_path, consumer_sample, azdo_server)
    head = repo.branches["refs/heads/main"]
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--no-registry", "--pull-request",
                         env=env)
    assert done.returncode == 0, done.stderr
    [push] = azdo_server.calls("POST", "/pushes")
    assert push.route == "/Product/_apis/git/repositories/product-repo/pushes"
    assert push.body["refUpdates"] == [{"name": BRANCH, "oldObjectId": head}]
    [commit] = push.body["commits"]
    migrated = consumer_sample.migrated_files()
    changed = {e.path for e in EXPECTED if e.migrated}
    assert {c["item"]["path"] for c in commit["changes"]} == {"/" + p for p in changed}
    for change in commit["changes"]:
        assert change["changeType"] == "edit"
        assert change["newContent"]["contentType"] == "base64encoded"
        assert base64.b64decode(change["newContent"]["content"]) == migrated[change["item"]["path"][1:]]
    # the branch now holds exactly the migrated files; main is untouched
    assert repo.files_at("lifecycle/migrate-to-latest") == migrated
    assert repo.files_at("main") == consumer_sample.files()

    [pr] = azdo_server.calls("POST", "/pullRequests")
    assert pr.route == "/Product/_apis/git/repositories/product-repo/pullRequests"
    assert pr.body["sourceRefName"] == BRANCH and pr.body["targetRefName"] == "refs/heads/main"
    assert pr.body["title"] == "Move container image references to -latest tags"
    for e in EXPECTED:
        line = f"`{e.path}:{e.line}`"
        assert (line in pr.body["description"]) == bool(e.migrated), line
        if e.migrated:
            assert f"`{consumer_sample.fill(e.text)}` -> `{consumer_sample.fill(e.migrated)}`" in pr.body["description"]
    url = f"{azdo_server.organization_url}/Product/_git/product-repo/pullrequest/101"
    assert url in done.stderr and url in done.stdout
    assert azdo_server.token not in done.stdout + done.stderr

    # a re-run finds the open pull request and pushes nothing
    again = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--no-registry", "--pull-request",
                          env=env)
    assert again.returncode == 0, again.stderr
    assert len(azdo_server.calls("POST")) == 2
    assert "already open" in again.stderr


def test_without_pull_request_flag_remote_repositories_only_show_the_diff(tmp_path, consumer_sample, azdo_server):
    gitops, repo, env = azdo_gitops(tmp_path, consumer_sample, azdo_server)
    done = run_lifecycle("consumers", "migrate", "--repo", str(gitops), "--no-registry", env=env)
    assert done.returncode == 0, done.stderr
    assert "+++ b/product/eng/legs.yaml" in done.stdout
    assert "--pull-request" in done.stderr
    assert not azdo_server.calls("POST")


def test_no_token_is_bad_input(tmp_path, consumer_sample, azdo_server):
    gitops, _, env = azdo_gitops(tmp_path, consumer_sample, azdo_server)
    env = {**env, "AZURE_DEVOPS_EXT_PAT": "", "SYSTEM_ACCESSTOKEN": ""}
    done = run_lifecycle("consumers", "scan", "--repo", str(gitops), "--no-registry", env=env)
    assert done.returncode == 2
    assert "AZURE_DEVOPS_EXT_PAT or SYSTEM_ACCESSTOKEN" in done.stderr
    assert not azdo_server.requests


def test_wrong_token_fails_without_showing_it(azdo_server):
    secret = "not-the-token-" + "x" * 20
    client = AzureDevOps(Secret(secret))
    with pytest.raises(OperationError) as err:
        client.branch_head(RepoRef(azdo_server.organization_url, "Product", "missing"), "main")
    assert "not authorized" in str(err.value)
    assert secret not in str(err.value) and secret not in repr(client)
    assert not any(r.authorized for r in azdo_server.requests)


def test_direct_api_and_conflicts(azdo_server):
    repo = azdo_server.add_repository("P", "r", {"a.txt": b"one\n"})
    client = AzureDevOps(Secret(azdo_server.token))
    ref = RepoRef(azdo_server.organization_url, "P", "r")
    assert [r.name for r in client.list_repositories(azdo_server.organization_url, "P")] == ["r"]
    # the client discovers routes first: the organisation's location list, then the resource areas
    assert [(r.method, r.path) for r in azdo_server.requests] == [
        ("OPTIONS", "/contoso/_apis"), ("GET", "/contoso/_apis/ResourceAreas"),
        ("GET", "/contoso/P/_apis/git/repositories")]
    head = client.branch_head(ref, "main")
    assert head == repo.branches["refs/heads/main"] and client.branch_head(ref, "nope") is None
    assert client.list_files(ref, head) == ["a.txt"]
    assert client.read_file(ref, "a.txt", head) == b"one\n"
    client.push_branch(ref, "topic", head, {"a.txt": b"two\n"}, "edit")
    pr_id, url = client.create_pull_request(ref, "topic", "main", "Title", "Body")
    assert (pr_id, url) == (101, f"{azdo_server.organization_url}/P/_git/r/pullrequest/101")
    assert client.find_pull_request(ref, "topic", "main").id == 101
    with pytest.raises(OperationError, match="TF401028"):   # the branch moved: the service refuses
        client.push_branch(ref, "topic", head, {"a.txt": b"three\n"}, "edit")
    with pytest.raises(OperationError, match="TF401179"):   # one active pull request per branch pair
        client.create_pull_request(ref, "topic", "main", "Again", "Body")
    repo.add_branch("rollback/abc")
    assert client.create_pull_request(ref, "rollback/abc", "main", "Revert", "Why")[0] == 102
    posts = azdo_server.calls("POST", "/pullRequests")
    assert len(posts) == 3   # the refused one is recorded too
    assert posts[-1].body == {"sourceRefName": "refs/heads/rollback/abc", "targetRefName": "refs/heads/main",
                           "title": "Revert", "description": "Why"}


def test_token_handling():
    assert token_from_env({"AZURE_DEVOPS_EXT_PAT": "a", "SYSTEM_ACCESSTOKEN": "b"}).reveal() == "a"
    assert token_from_env({"SYSTEM_ACCESSTOKEN": "b"}).reveal() == "b"
    with pytest.raises(InputError):
        token_from_env({})
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret) + str(secret) + repr(AzureDevOps(secret))


@pytest.mark.parametrize("url,expected", [
    ("https://dev.azure.com/dnceng/internal/_git/dotnet-runtime", ("https://dev.azure.com/dnceng", "internal", "dotnet-runtime")),
    ("https://dnceng@dev.azure.com/dnceng/internal/_git/dotnet-runtime", ("https://dev.azure.com/dnceng", "internal", "dotnet-runtime")),
    ("https://user:tok@dev.azure.com/dnceng/internal/_git/x/", ("https://dev.azure.com/dnceng", "internal", "x")),
    ("https://dnceng.visualstudio.com/internal/_git/x", ("https://dev.azure.com/dnceng", "internal", "x")),
    ("git@ssh.dev.azure.com:v3/dnceng/internal/x", ("https://dev.azure.com/dnceng", "internal", "x")),
    ("http://127.0.0.1:8080/contoso/P/_git/r", ("http://127.0.0.1:8080/contoso", "P", "r")),
])
def test_remote_urls(url, expected):
    ref = RepoRef.parse_remote(url)
    assert (ref.organization_url, ref.project, ref.name) == expected


def test_non_azdo_remote_is_bad_input_and_hides_credentials():
    with pytest.raises(InputError) as err:
        RepoRef.parse_remote("https://user:s3cret@github.com/a/b.git")
    assert "s3cret" not in str(err.value)
