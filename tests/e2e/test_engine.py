"""Engine and local base image against the real podman service and a real registry."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
from pathlib import Path

import pytest

from lifecycle.build.engine import Engine
from lifecycle.errors import OperationError
from lifecycle.build.localbase import build_base_image
from tests.fixtures.registry import ENGINE_PORTS, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.engine]


def skopeo_inspect(ref: str) -> dict:
    done = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def write_context(path: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (path / name).write_text(text)
    return path


@pytest.fixture
def parent_name(engine, base_image, registry, unique_repo):
    """The base pulled BY DIGEST and tagged locally under an in-repo parent name that the
    registry does not have: a build that tried to pull it would fail."""
    name = f"{registry.host}/{unique_repo}:parent-amd64"
    engine.pull(base_image.pinned)
    engine.tag(base_image.pinned, name)
    yield name
    engine.remove(name)


def test_build_uses_local_parent_with_build_args_and_labels(engine, registry, unique_repo, parent_name, tmp_path):
    repo = unique_repo
    assert registry.client().try_resolve(repo, "parent-amd64") is None  # only local: never pulled
    context = write_context(
        tmp_path / "ctx",
        f"FROM {parent_name}\nARG GREETING=unset\nCOPY hello.txt /hello.txt\nRUN echo \"$GREETING\" > /greeting\n",
        {"hello.txt": "from the context\n"},
    )
    lines: list[str] = []
    child = f"{registry.host}/{repo}:child-amd64"
    labels = {"org.opencontainers.image.revision": "0" * 40, "org.example.definition": "sha256:" + "ab" * 32}
    image_id = engine.build(context, dockerfile="Dockerfile", tag=child, build_args={"GREETING": "hi there"},
                            labels=labels, log=lines.append)
    try:
        assert image_id.startswith("sha256:") and image_id == engine.image_id(child)
        assert engine.labels(child).items() >= labels.items()
        assert any("RUN" in line for line in lines), lines
        result = engine.run_test(child, "cat /greeting /hello.txt")
        assert result.passed and result.exit_code == 0
        assert result.output == "hi there\nfrom the context\n"
    finally:
        engine.remove(child)
    assert engine.image_id(child) is None


def test_run_test_reports_exit_code_and_output(engine, base_image):
    engine.pull(base_image.pinned)
    ok = engine.run_test(base_image.pinned, "echo out; echo err >&2; test -x /bin/sh")
    assert (ok.exit_code, ok.passed, ok.timed_out) == (0, True, False)
    assert "out" in ok.output and "err" in ok.output
    bad = engine.run_test(base_image.pinned, "echo about to fail; exit 3")
    assert (bad.exit_code, bad.passed) == (3, False)
    assert bad.output == "about to fail\n"
    assert bad.command == "echo about to fail; exit 3"
    slow = engine.run_test(base_image.pinned, "sleep 30", timeout=2)
    assert slow.timed_out and not slow.passed and "timed out" in slow.output
    # Test containers are removed whatever happened.
    leftovers = engine._client.containers.list(all=True, filters={"label": "lifecycle.test=true"})
    assert leftovers == []


def test_push_returns_the_digest_the_registry_serves(engine, registry, unique_repo, parent_name, tmp_path):
    context = write_context(tmp_path / "ctx", f"FROM {parent_name}\nRUN echo {secrets.token_hex(8)} > /unique\n")
    ref = f"{registry.host}/{unique_repo}:app-amd64-20260101000000-abc1234"
    engine.build(context, tag=ref, labels={"org.example.kind": "pushed"})
    digest = engine.push(ref)
    inspected = skopeo_inspect(ref)
    assert digest.startswith("sha256:") and inspected["Digest"] == digest
    assert inspected["Labels"]["org.example.kind"] == "pushed"
    assert registry.client().resolve(unique_repo, "app-amd64-20260101000000-abc1234") == digest
    # A second name for the same image pushes the same manifest.
    again = f"{registry.host}/{unique_repo}:app-amd64-staging"
    engine.tag(ref, again)
    assert engine.push(again) == digest
    engine.remove(again)
    engine.remove(ref)


def test_failed_build_names_the_image_and_quotes_the_log_tail(engine, registry, unique_repo, parent_name, tmp_path):
    context = write_context(
        tmp_path / "ctx", f"FROM {parent_name}\nRUN for i in $(seq 1 40); do echo build-line-$i; done; exit 7\n"
    )
    ref = f"{registry.host}/{unique_repo}:broken-amd64"
    lines: list[str] = []
    with pytest.raises(OperationError) as failure:
        engine.build(context, tag=ref, log=lines.append)
    message = str(failure.value)
    assert f"build of {ref} failed" in message
    assert "build-line-40" in message and "build-line-30" in message
    assert "build-line-10\n" not in message + "\n"  # only the tail is quoted
    assert "build-line-1" in lines and "build-line-40" in lines  # the whole log was streamed
    assert engine.image_id(ref) is None


def test_missing_parent_is_not_pulled(engine, registry, unique_repo, tmp_path):
    context = write_context(tmp_path / "ctx", f"FROM {registry.host}/{unique_repo}:never-pushed\n")
    with pytest.raises(OperationError, match="build of .*:orphan failed"):
        engine.build(context, tag=f"{registry.host}/{unique_repo}:orphan")


def test_pull_and_push_errors_are_raised(engine, registry, unique_repo, base_image):
    with pytest.raises(OperationError, match="pull of .* failed"):
        engine.pull(f"{registry.host}/{unique_repo}@sha256:{'0' * 64}")
    nobody = free_port(range(ENGINE_PORTS.stop - 1, ENGINE_PORTS.start - 1, -1))
    ref = f"127.0.0.1:{nobody}/{unique_repo}:x"
    engine.pull(base_image.pinned)
    engine.tag(base_image.pinned, ref)
    try:
        with pytest.raises(OperationError, match=f"push of {ref} failed"):
            engine.push(ref)
    finally:
        engine.remove(ref)


def test_unreachable_engine_says_where_and_how_to_start(tmp_path):
    missing = f"unix://{tmp_path}/no-engine.sock"
    with pytest.raises(OperationError) as failure:
        Engine(missing)
    assert f"DOCKER_HOST={missing}" in str(failure.value)
    assert "eng/local-env.sh up" in str(failure.value)
    with socket.socket() as sock:  # a TCP port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OperationError, match=f"DOCKER_HOST=tcp://127.0.0.1:{port}"):
        Engine(f"tcp://127.0.0.1:{port}", timeout=5)


def test_base_image_reseed_with_marker_gives_a_new_digest(engine, registry, unique_repo):
    ref = f"{registry.host}/{unique_repo}:1"
    first = build_base_image(engine, ref, marker="patch level 1")
    assert build_base_image(engine, ref, marker="patch level 1") == first  # same content: same digest
    second = build_base_image(engine, ref, marker="patch level 2")
    assert second != first
    assert skopeo_inspect(ref)["Digest"] == second
    pinned = f"{registry.host}/{unique_repo}@{second}"
    engine.pull(pinned)
    result = engine.run_test(pinned, "cat /etc/base-release; ls /bin/sh /bin/wget /tmp >/dev/null && echo tools")
    assert result.passed, result.output
    assert result.output == "patch level 2\ntools\n"
