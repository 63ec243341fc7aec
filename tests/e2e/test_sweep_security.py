"""Security sweep: secrets never leak (output, exceptions, written files), plain HTTP only where allowed,
every shipped base approved, and `validate` refusing an unapproved mutable base even in a build stage."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from lifecycle.errors import LifecycleError
from lifecycle.build.imageinfo import ImageInfo, write as write_info
from lifecycle.registry import Credentials, RegistryClient
from lifecycle.registry.auth import env_prefix
from lifecycle.sample import PARENT, SOLO
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.consumers import azdo_gitops
from tests.fixtures.faultproxy import FaultProxy
from tests.fixtures.gitops_origin import git
from tests.fixtures.images import push_image
from tests.fixtures.lifecycle_repo import gitops_repo, run_cli
from tests.fixtures.registry import free_port

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]


def secret_forms(secret: str, user: str | None = None) -> set[str]:
    """The secret and the encodings it travels in (HTTP basic auth, Docker config, PAT headers)."""
    forms = {secret}
    raw = [secret.encode(), f":{secret}".encode()] + ([f"{user}:{secret}".encode()] if user else [])
    for data in raw:
        forms.add(base64.b64encode(data).decode())
        forms.add(base64.urlsafe_b64encode(data).decode().rstrip("="))
        forms.add(base64.b64encode(data).decode().rstrip("="))
    return forms


class Leaks:
    """Everything a run produced, searched for the secret's forms."""

    def __init__(self, forms: set[str]):
        self.forms = forms
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def run(self, *args: str, env: dict[str, str], cwd: Path | None = None, expect: int | None = 0,
            ) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "lifecycle", *args], capture_output=True, text=True,
                              env={**os.environ, **env}, cwd=cwd, stdin=subprocess.DEVNULL, timeout=300)
        self.add(f"stdout of {args}", done.stdout)
        self.add(f"stderr of {args}", done.stderr)
        if expect is not None:
            assert done.returncode == expect, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def add_tree(self, root: Path) -> int:
        """Every file under root (git objects are zlib-compressed: git's own view is added by add_git)."""
        count = 0
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                self.add(str(path), path.read_bytes().decode("utf-8", "replace"))
                count += 1
        return count

    def add_git(self, repo: Path) -> None:
        self.add(f"git history of {repo}", git(repo, "log", "-p", "--all", "--format=%H %B"))

    def check(self) -> None:
        found = [(where, form) for where, text in self.texts for form in self.forms if form and form in text]
        assert not found, f"secret found in: {sorted({w for w, _ in found})}"


@pytest.mark.parametrize("server_fixture", ["basic_registry", "token_registry"])
def test_registry_credentials_never_leak(request, server_fixture, gitops_origin, tmp_path):
    server = request.getfixturevalue(server_fixture)
    leaks = Leaks(secret_forms(server.password, server.username))
    origin = gitops_origin(server.host)
    with server.client() as client:
        pushed = origin.publish_synthetic(client, origin.initial)
        extra = push_image(client, origin.repository, "scratch-1", labels={"x": "1"})
    prefix = env_prefix(server.host)
    right = {f"{prefix}_USERNAME": server.username, f"{prefix}_PASSWORD": server.password,
             "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    wrong_password = "wrong-" + server.password[::-1]
    wrong = {**right, f"{prefix}_PASSWORD": wrong_password}
    leaks.forms |= secret_forms(wrong_password, server.username)
    ref = f"{server.host}/{origin.repository}"
    out = tmp_path / "out"
    out.mkdir()
    agent = str(origin.agent)

    # the wrong password: refused clearly, exit 1, nothing printed of it
    for args in (("registry", "inspect", f"{ref}:scratch-1"), ("registry", "retag", f"{ref}:scratch-1", "copy"),
                 ("cleanup", "--repo", agent), ("rollout", "--repo", agent, "--journal", str(out / "bad.json"))):
        done = leaks.run(*args, env=wrong, expect=1)
        assert "Traceback" not in done.stderr and server.host in done.stderr + done.stdout, done.stderr
    # the right one: everything works
    leaks.run("registry", "inspect", f"{ref}:scratch-1", "-o", "json", env=right)
    leaks.run("registry", "retag", f"{ref}:scratch-1", "copy", env=right)
    info = out / "leg" / "image-info.json"
    write_info(info, "staging", server.host, origin.repository,
               [ImageInfo(t, "published", "sha256:x", origin.initial, digest=d) for t, d in pushed.items()])
    leaks.run("publish", "--channel", "staging", "--move-from", str(info), "--info", str(out / "info.json"),
              "--repo", agent, env=right)
    leaks.run("rollout", "--repo", agent, "--journal", str(out / "journal.json"), env=right)
    leaks.run("stale", "--channel", "latest", "--repo", agent, "-o", "json", env=right)
    leaks.run("cleanup", "--repo", agent, "--plan-file", str(out / "plan.json"), env=right)
    leaks.run("rollback", "--image", SOLO, "--emergency", "--dry-run", "--journal", str(out / "journal.json"),
              "--repo", agent, env=right, expect=None)
    assert (out / "info.json").exists() and (out / "journal.json").exists() and (out / "plan.json").exists()
    with server.client() as client:
        assert client.resolve(origin.repository, "copy") == extra
        assert client.resolve(origin.repository, f"{PARENT}-latest") == pushed[PARENT]

    # exceptions raised in-process, their repr and their traceback
    for password in (wrong_password, server.password):
        with RegistryClient(server.host, credentials=Credentials(server.username, password)) as client:
            leaks.add("client repr", repr(client) + repr(client.transport.auth.credentials))
            try:
                client.retag(origin.repository, "scratch-1", "copy2" if password == server.password else "copy3")
                client.resolve(origin.repository, "no-such-tag")
            except LifecycleError as exc:
                leaks.add("exception", "".join(traceback.format_exception(exc)) + repr(exc))
            else:
                pytest.fail("resolving a missing tag must raise")
    files = leaks.add_tree(tmp_path)
    assert files > 10
    leaks.add_git(origin.agent)
    leaks.add_git(origin.bare)
    leaks.check()


def test_azure_devops_token_never_leaks(tmp_path, consumer_sample, azdo_server):
    gitops, _repo, env = azdo_gitops(tmp_path, consumer_sample, azdo_server)
    wrong_token = "pat-wrong-" + azdo_server.token[::-1]
    leaks = Leaks(secret_forms(azdo_server.token) | secret_forms(wrong_token))
    usage = tmp_path / "usage.json"
    done = leaks.run("consumers", "scan", "--repo", str(gitops), "--no-registry", "-o", "json", "--usage-out",
                     str(usage), env=env)
    assert '"references"' in done.stdout and usage.exists()
    leaks.run("consumers", "scan", "--repo", str(gitops), "--no-registry", env=env)
    leaks.run("consumers", "migrate", "--repo", str(gitops), "--no-registry", "--pull-request", env=env)
    assert azdo_server.calls("POST", "/pushes"), "migrate must have pushed through the stand-in"
    bad = leaks.run("consumers", "scan", "--repo", str(gitops), "--no-registry",
                    env={**env, "AZURE_DEVOPS_EXT_PAT": wrong_token}, expect=1)
    assert "Traceback" not in bad.stderr and bad.stderr.strip()
    # the token also travels in what the stand-in received: only in the Authorization header
    leaks.add_tree(tmp_path)
    leaks.check()
    planted = Leaks(leaks.forms)   # the check itself finds a token where one is
    planted.add("planted", "Authorization: Basic " + base64.b64encode(f":{azdo_server.token}".encode()).decode())
    with pytest.raises(AssertionError, match="planted"):
        planted.check()


def test_plain_http_refused_for_a_non_loopback_registry(registry, capsys):
    address = _non_loopback_address()
    with registry.client() as client:
        digest = push_image(client, "sweep/http", "v1")
    proxy = FaultProxy(registry.host, bind="0.0.0.0", port=free_port()).start()
    try:
        host = f"{address}:{proxy.host.rsplit(':', 1)[1]}"
        code, out, err = run_cli(capsys, "registry", "digest", f"{host}/sweep/http:v1")
        assert code == 1 and "--insecure-registry" in err and host in err, err
        assert proxy.count(outcome="forwarded") == 0   # no request went over plain HTTP
        code, out, err = run_cli(capsys, "registry", "digest", f"{host}/sweep/http:v1", "--insecure-registry", host)
        assert code == 0 and digest in out, err
        assert proxy.count(outcome="forwarded") >= 1
    finally:
        proxy.stop()


def _non_loopback_address() -> str:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))   # no packet is sent: this only picks the outgoing interface
            address = sock.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address")
    return address


def test_shipped_catalogue_uses_only_approved_bases():
    ws = Workspace.load(WorkTree(REPO_ROOT))
    checked = []
    for tagbase, dockerfile in ws.dockerfiles.items():
        for stage in dockerfile.stages:
            for ref in (stage.base, *stage.copies_from):
                if not ref.is_image or ws.in_repo_tag(ref.ref) is not None:
                    continue
                checked.append(ref.ref)
                assert ws.policy.approves(ref.ref), f"{dockerfile.path}:{ref.line}: {ref.ref} is not approved"
    assert checked, "the shipped catalogue has external bases: the check must have seen some"
    assert len(ws.dockerfiles) == len(ws.catalog.images)


def test_validate_rejects_an_unapproved_mutable_base_in_a_build_stage(tmp_path, capsys):
    app = "app-1.0-amd64"
    dockerfile = ("FROM 127.0.0.1:1/base/os:1\n"        # approved: the policy allows 127.0.0.1:*/base/*
                  "FROM docker.io/library/golang:latest AS build\n"
                  "RUN go version > /v\n"
                  "FROM 127.0.0.1:1/base/os:1\n"
                  "COPY --from=build /v /v\n")
    repo = gitops_repo(tmp_path, "127.0.0.1:5000", "test/validate", {app: dockerfile})
    code, out, err = run_cli(capsys, "validate", "--no-pipelines", "--repo", str(repo))
    assert code == 2, err
    assert "src/app/1.0/amd64/Dockerfile:2" in out and "docker.io/library/golang:latest" in out, out
    # the same stage from an approved registry passes: the build stage was the only problem
    fixed = dockerfile.replace("docker.io/library/golang:latest", "127.0.0.1:1/base/golang:1")
    (repo / "src/app/1.0/amd64/Dockerfile").write_text(fixed)
    code, _, err = run_cli(capsys, "validate", "--no-pipelines", "--repo", str(repo))
    assert code == 0, err
