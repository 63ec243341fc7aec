"""`lifecycle verify IMAGE_REF` end to end: signed provenance, SBOM and end-of-life referrers on a real registry."""

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from lifecycle.registry import referrers
from lifecycle.supplychain import eol, provenance, signing
from lifecycle.supplychain.verify import SBOM_TYPE
from tests.fixtures.images import push_image

pytestmark = pytest.mark.e2e
LIFECYCLE = str(Path(sys.executable).parent / "lifecycle")


def verify(ref: str, repo: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_REGISTRY")}
    env["DOCKER_CONFIG"] = str(tmp_path)
    return subprocess.run([LIFECYCLE, "verify", "-o", "json", "--repo", str(repo), ref], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def gitops(tmp_path, signing_keys) -> Path:
    root = tmp_path / "gitops"
    (root / "keys").mkdir(parents=True)
    shutil.copy(signing_keys["trusted"][1], root / "keys" / "release.pub")
    return root


def _envelope(client, repo, digest, key) -> bytes:
    facts = provenance.BuildFacts(image=f"{client.registry}/{repo}", digest=digest, repository_url="file:///src",
                                  commit="b" * 40, definition_hash="defhash", bases={"busybox:1": "sha256:" + "1" * 64})
    return signing.sign(provenance.encode(provenance.statement(facts)), provenance.PAYLOAD_TYPE,
                        signing.load_signer(f"file:{key}"))


def test_verified_with_sbom_and_end_of_life(registry, unique_repo, gitops, signing_keys, tmp_path):
    with registry.client() as client:
        digest = push_image(client, unique_repo, "good", labels={"n": "1"})
        referrers.attach(client, unique_repo, digest, provenance.ARTIFACT_TYPE,
                         _envelope(client, unique_repo, digest, signing_keys["trusted"][0]), provenance.ARTIFACT_TYPE)
        sbom = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "busybox"}, {"name": "libc"}]}
        referrers.attach(client, unique_repo, digest, SBOM_TYPE, json.dumps(sbom).encode(), SBOM_TYPE)
        eol.attach_eol(client, unique_repo, digest, date(2026, 11, 30))
        assert eol.eol_date(client, unique_repo, digest) == "2026-11-30"
    run = verify(registry.ref(unique_repo, "good"), gitops, tmp_path)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    assert (shown["digest"], shown["verified"]) == (digest, True)
    assert shown["provenance"]["commit"] == "b" * 40 and shown["provenance"]["definitionHash"] == "defhash"
    assert shown["provenance"]["bases"] == {"busybox:1": "sha256:" + "1" * 64}
    assert (shown["sbom_components"], shown["end_of_life"]) == (2, "2026-11-30")


@pytest.mark.parametrize("case", ["tampered", "other-key", "missing", "other-subject"])
def test_not_verified_exits_nonzero_with_reason(case, registry, unique_repo, gitops, signing_keys, tmp_path):
    with registry.client() as client:
        digest = push_image(client, unique_repo, "bad", labels={"case": case})
        elsewhere = push_image(client, unique_repo, "elsewhere", labels={"case": case + "-2"})
        key = signing_keys["stranger" if case == "other-key" else "trusted"][0]
        envelope = _envelope(client, unique_repo, elsewhere if case == "other-subject" else digest, key)
        if case == "tampered":
            body = json.loads(envelope)
            body["payload"] = body["payload"].replace(body["payload"][10:14], "AAAA" if body["payload"][10:14] != "AAAA" else "BBBB")
            envelope = json.dumps(body).encode()
        if case != "missing":
            referrers.attach(client, unique_repo, digest, provenance.ARTIFACT_TYPE, envelope, provenance.ARTIFACT_TYPE)
    run = verify(registry.ref(unique_repo, "bad"), gitops, tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    shown = json.loads(run.stdout)
    assert shown["verified"] is False and shown["provenance"] == {}
    expected = {"tampered": "does not verify", "other-key": "does not verify", "missing": "no provenance referrer",
                "other-subject": f"not {digest}"}[case]
    assert expected in shown["reason"] and expected in run.stderr


def test_no_trusted_keys_is_an_input_error(registry, unique_repo, tmp_path):
    with registry.client() as client:
        push_image(client, unique_repo, "k", labels={"n": "k"})
    run = verify(registry.ref(unique_repo, "k"), tmp_path / "empty", tmp_path)
    assert run.returncode == 2 and "no trusted public keys" in run.stderr
