"""`lifecycle registry ...` end to end: real process, real registry, exit codes and output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.images import push_image, push_multiplatform

pytestmark = pytest.mark.e2e
LIFECYCLE = str(Path(sys.executable).parent / "lifecycle")


def cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_REGISTRY")}
    env["DOCKER_CONFIG"] = str(tmp_path)
    return subprocess.run([LIFECYCLE, "registry", *args], env=env, capture_output=True, text=True, timeout=60)


def test_digest_inspect_tags(registry, unique_repo, tmp_path):
    with registry.client() as client:
        index, children = push_multiplatform(client, unique_repo, "multi", labels={"org.x.rev": "abc"})
    ref = registry.ref(unique_repo, "multi")
    assert cli("digest", ref, tmp_path=tmp_path).stdout.strip() == index
    shown = json.loads(cli("inspect", "-o", "json", "--platform", "linux/arm64", ref, tmp_path=tmp_path).stdout)
    assert shown["digest"] == index and shown["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert {c["platform"]: c["digest"] for c in shown["children"]} == {
        "linux/amd64": children[("linux", "amd64")], "linux/arm64": children[("linux", "arm64")]}
    assert shown["config"]["manifest"] == children[("linux", "arm64")]
    assert shown["config"]["labels"] == {"org.x.rev": "abc"}
    table = cli("inspect", ref, tmp_path=tmp_path).stdout
    assert "label org.x.rev" in table and "child linux/amd64" in table
    assert json.loads(cli("tags", "-o", "json", f"{registry.host}/{unique_repo}", tmp_path=tmp_path).stdout) == ["multi"]


def test_retag_dry_run_then_real_then_unchanged(registry, unique_repo, tmp_path):
    with registry.client() as client:
        digest = push_image(client, unique_repo, "src")
    src = registry.ref(unique_repo, "src")
    dry = cli("retag", "--dry-run", "-o", "json", src, "a", "b", tmp_path=tmp_path)
    assert dry.returncode == 0 and [r["status"] for r in json.loads(dry.stdout)] == ["would-move"] * 2
    with registry.client() as client:
        assert client.tags(unique_repo) == ["src"]
    done = cli("retag", "-o", "json", src, "a", "b", tmp_path=tmp_path)
    assert [(r["tag"], r["status"], r["digest"]) for r in json.loads(done.stdout)] == [("a", "moved", digest),
                                                                                     ("b", "moved", digest)]
    again = cli("retag", src, "a", tmp_path=tmp_path)
    assert again.returncode == 0 and "unchanged" in again.stdout
    with registry.client() as client:
        assert client.resolve(unique_repo, "a") == client.resolve(unique_repo, "b") == digest


def test_delete_dry_run_then_real(registry, unique_repo, tmp_path):
    with registry.client() as client:
        digest = push_image(client, unique_repo, "v1")
    ref = registry.ref(unique_repo, "v1")
    dry = cli("delete", "--dry-run", "-o", "json", ref, tmp_path=tmp_path)
    assert json.loads(dry.stdout) == {"reference": ref, "digest": digest, "status": "would-delete"}
    with registry.client() as client:
        assert client.resolve(unique_repo, "v1") == digest
    done = cli("delete", ref, tmp_path=tmp_path)
    assert done.returncode == 0 and "deleted" in done.stdout
    with registry.client() as client:
        assert client.try_resolve(unique_repo, digest) is None
    missing = cli("delete", ref, tmp_path=tmp_path)
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


def test_bad_input_exit_2_and_missing_exit_1(registry, unique_repo, tmp_path):
    bad = cli("digest", "not a reference", tmp_path=tmp_path)
    assert bad.returncode == 2 and "invalid image reference 'not a reference'" in bad.stderr
    no_tag = cli("digest", f"{registry.host}/{unique_repo}", tmp_path=tmp_path)
    assert no_tag.returncode == 2 and "names no tag or digest" in no_tag.stderr
    bad_tag = cli("retag", registry.ref(unique_repo, "x"), "other/repo:t", tmp_path=tmp_path)
    assert bad_tag.returncode == 2
    missing = cli("retag", registry.ref(unique_repo, "absent"), "t", tmp_path=tmp_path)
    assert missing.returncode == 1 and "before changing anything" in missing.stderr
