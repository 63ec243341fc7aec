"""Basic (htpasswd) and Bearer-token auth against real registries; CLI failures keep secrets out of output."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle.registry import ANONYMOUS, AuthError, Credentials, RegistryClient
from tests.fixtures.images import push_image, push_multiplatform
from tests.fixtures.registry import TEST_RETRY

pytestmark = pytest.mark.e2e
LIFECYCLE = str(Path(sys.executable).parent / "lifecycle")


def run_cli(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_REGISTRY")}
    clean["DOCKER_CONFIG"] = str(tmp_path / "docker")  # no stray credentials from the machine
    return subprocess.run([LIFECYCLE, *args], env={**clean, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("server_fixture", ["basic_registry", "token_registry"])
def test_operations_with_credentials(request, server_fixture, unique_repo):
    server = request.getfixturevalue(server_fixture)
    with server.client() as client:
        digest = push_image(client, unique_repo, "src", labels={"auth": server_fixture})
        index, _ = push_multiplatform(client, unique_repo, "multi")
        assert client.retag(unique_repo, "src", "copy").status == "moved"
        assert client.retag(unique_repo, index, "multi-copy").digest == index
        assert sorted(client.tags(unique_repo)) == ["copy", "multi", "multi-copy", "src"]
        assert client.config(unique_repo, "copy").labels == {"auth": server_fixture}
        client.delete(unique_repo, digest)
        assert client.try_resolve(unique_repo, "src") is None


def test_token_cached_per_scope(token_registry, unique_repo):
    issuer = token_registry.issuer
    with token_registry.client() as client:
        push_image(client, unique_repo, "a")
        before = issuer.issued
        for _ in range(10):
            client.resolve(unique_repo, "a")
            client.manifest(unique_repo, "a")
        assert issuer.issued == before  # the pull token was cached, not fetched per request
        client.retag_many(unique_repo, [("a", f"t{i}") for i in range(20)])
        assert issuer.issued == before  # pull,push already held from the pushes
        client.delete(unique_repo, client.resolve(unique_repo, "a"))
        assert issuer.issued == before + 1  # delete is a new scope: one token


@pytest.mark.parametrize("server_fixture", ["basic_registry", "token_registry"])
def test_wrong_or_missing_credentials_raise_auth_error(request, server_fixture):
    server = request.getfixturevalue(server_fixture)
    with RegistryClient(server.host, credentials=Credentials(server.username, "wrong-pw-123"),
                        retry=TEST_RETRY) as client:
        with pytest.raises(AuthError, match=f"authentication failed .* as user '{server.username}'") as caught:
            client.tags("any/repo")
        assert "wrong-pw-123" not in str(caught.value)
    with RegistryClient(server.host, credentials=ANONYMOUS, retry=TEST_RETRY) as client:
        with pytest.raises(AuthError, match="requires credentials and none were found"):
            client.resolve("any/repo", "x")


@pytest.mark.parametrize("server_fixture", ["basic_registry", "token_registry"])
def test_cli_env_credentials_and_wrong_password(request, server_fixture, unique_repo, tmp_path):
    server = request.getfixturevalue(server_fixture)
    with server.client() as client:
        digest = push_image(client, unique_repo, "v1")
    ref = f"{server.host}/{unique_repo}:v1"
    good = {"LIFECYCLE_REGISTRY_USERNAME": server.username, "LIFECYCLE_REGISTRY_PASSWORD": server.password}
    done = run_cli(["registry", "digest", ref], good, tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, digest), done.stderr
    bad_secret = "Wr0ng-" + server.password[::-1]
    bad = {"LIFECYCLE_REGISTRY_USERNAME": server.username, "LIFECYCLE_REGISTRY_PASSWORD": bad_secret}
    for args in (["registry", "digest", ref], ["registry", "retag", ref, "v2"], ["registry", "tags", ref[:-3]]):
        failed = run_cli(args, bad, tmp_path)
        assert failed.returncode == 1, (args, failed.stdout, failed.stderr)
        assert "authentication failed" in failed.stderr and server.username in failed.stderr
        assert "LIFECYCLE_REGISTRY_USERNAME" in failed.stderr  # says where the credentials came from
        for secret in (bad_secret, server.password, base64.b64encode(f"{server.username}:{bad_secret}".encode()).decode()):
            assert secret not in failed.stdout + failed.stderr
    with server.client() as client:
        assert client.try_resolve(unique_repo, "v2") is None  # the failed retag changed nothing


def test_cli_docker_config_credentials(basic_registry, unique_repo, tmp_path):
    with basic_registry.client() as client:
        digest = push_image(client, unique_repo, "v1")
    (tmp_path / "docker").mkdir()
    auth = base64.b64encode(f"{basic_registry.username}:{basic_registry.password}".encode()).decode()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    done = run_cli(["registry", "digest", "-o", "json", f"{basic_registry.host}/{unique_repo}:v1"], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["digest"] == digest


def test_cli_per_registry_env_wins(basic_registry, unique_repo, tmp_path):
    with basic_registry.client() as client:
        push_image(client, unique_repo, "v1")
    prefix = "LIFECYCLE_REGISTRY_" + basic_registry.host.replace(".", "_").replace(":", "_")
    env = {f"{prefix}_USERNAME": basic_registry.username, f"{prefix}_PASSWORD": basic_registry.password,
           "LIFECYCLE_REGISTRY_USERNAME": "nobody", "LIFECYCLE_REGISTRY_PASSWORD": "nothing"}
    done = run_cli(["registry", "tags", f"{basic_registry.host}/{unique_repo}"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["TAG", "v1"]
