"""Publish attaches a provenance and an SBOM to every digest it pushes (issue 24), on the real engine and
registry: the busybox sample (no package database) plus a Debian image (dpkg's real package list)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle.build.publish import publish
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from lifecycle.output import Reporter
from lifecycle.registry import referrers
from lifecycle.sample import CHILD, DEBIAN, SOLO, TAGBASES, add_debian_image
from lifecycle.supplychain import provenance, sbom, signing
from lifecycle.supplychain.records import UNSIGNED_WARNING

pytestmark = pytest.mark.e2e

PIPELINE = {"BUILD_BUILDID": "4242", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
            "SYSTEM_TEAMPROJECT": "images"}


def _sign_with(sample, private, public) -> None:
    (sample.root / "keys").mkdir(exist_ok=True)
    shutil.copy(public, sample.root / "keys" / "release.pub")
    policy = sample.root / "manifests/policy.yml"
    policy.write_text(policy.read_text() + f"signing:\n  key: file:{private}\n")


def _only(client, repo, digest, artifact_type) -> bytes:
    found = referrers.list_referrers(client, repo, digest, artifact_type)
    assert len(found) == 1, (artifact_type, found)
    return referrers.read_payload(client, repo, found[0])


def test_every_published_digest_has_signed_provenance_and_sbom(sample, debian_base, signing_keys, monkeypatch,
                                                               tmp_path):
    for name, value in PIPELINE.items():
        monkeypatch.setenv(name, value)
    add_debian_image(sample.root, sample.names)
    _sign_with(sample, *signing_keys["trusted"])
    head = sample.commit("debian image, signing key")
    err = io.StringIO()
    report = publish(sample.root, None, channel="staging", client=sample.client, engine=sample.engine,
                     reporter=Reporter(err=err))
    assert report.ok, {r.tagbase: r.reason for r in report.results}
    assert UNSIGNED_WARNING not in err.getvalue()
    ws = Workspace.load(WorkTree(sample.root))
    trusted = [signing.load_public_key(signing_keys["trusted"][1])]
    stranger = [signing.load_public_key(signing_keys["stranger"][1])]
    assert sorted(r.tagbase for r in report.results) == sorted([*TAGBASES, DEBIAN])
    for result in report.results:
        image = ws.catalog.image(result.tagbase)
        envelope = _only(sample.client, sample.repository, result.digest, provenance.ARTIFACT_TYPE)
        checked = signing.verify(envelope, trusted)
        assert checked.ok, (result.tagbase, checked.reason)
        assert not signing.verify(envelope, stranger).ok
        statement = checked.document
        assert provenance.subject_digest(statement) == result.digest
        assert statement["subject"][0]["name"] == f"{sample.names.registry}/{sample.repository}"
        assert provenance.definition_hash(statement) == ws.definitions[result.tagbase]
        build = statement["predicate"]["buildDefinition"]
        assert build["externalParameters"]["platform"] == "linux/amd64"
        assert build["externalParameters"]["buildArgs"] == image.build_args
        assert build["internalParameters"]["testsPassed"] == list(image.tests)
        deps = {d["uri"]: d["digest"] for d in build["resolvedDependencies"]}
        assert deps.pop(f"git+{ws.catalog.source_url}") == {"gitCommit": head}
        assert {ref: "sha256:" + d["sha256"] for ref, d in deps.items()} == result.bases
        run = statement["predicate"]["runDetails"]
        assert run["metadata"]["invocationId"] == "4242"
        assert run["builder"]["id"] == "https://dev.azure.com/contoso/images/_build/results?buildId=4242"
        document = json.loads(_only(sample.client, sample.repository, result.digest, sbom.MEDIA_TYPE))
        assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.5"
        assert document["metadata"]["component"]["version"] == result.digest
        assert result.records["signed"] is True
        assert result.records["components"] == len(document.get("components") or [])
    by = {r.tagbase: r for r in report.results}
    assert by[CHILD].records["components"] == 0  # busybox: no package database, and the SBOM says so
    debian = json.loads(_only(sample.client, sample.repository, by[DEBIAN].digest, sbom.MEDIA_TYPE))
    purls = {c["name"]: c["purl"] for c in debian["components"]}
    version = sample.engine.run_test(ws.catalog.reference(by[DEBIAN].immutable_tag),
                                     "dpkg-query -W -f='${Version}' apt").output.strip()
    assert purls["apt"] == f"pkg:deb/debian/apt@{version}?arch=amd64&distro=debian-12"
    assert len(purls) > 50 and "libc6" in purls
    # `lifecycle verify` reads the same records back
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_REGISTRY")}
    done = subprocess.run([str(Path(sys.executable).parent / "lifecycle"), "verify", "-o", "json", "--repo",
                           str(sample.root), sample.names.ref(f"{DEBIAN}-staging")],
                          capture_output=True, text=True, timeout=120, env={**env, "DOCKER_CONFIG": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["verified"] is True and shown["sbom_components"] == len(purls)
    assert shown["provenance"]["commit"] == head


def test_without_a_signing_key_publish_warns_and_attaches_unsigned_provenance(sample, signing_keys):
    err = io.StringIO()
    report = publish(sample.root, [SOLO], channel="staging", client=sample.client, engine=sample.engine,
                     reporter=Reporter(err=err))
    assert report.ok and report.by_status("published") == [SOLO]
    assert f"warning: {UNSIGNED_WARNING}" in err.getvalue()
    (result,) = report.results
    envelope = _only(sample.client, sample.repository, result.digest, provenance.ARTIFACT_TYPE)
    assert json.loads(envelope)["signatures"] == []
    checked = signing.verify(envelope, [signing.load_public_key(signing_keys["trusted"][1])])
    assert (checked.ok, checked.reason) == (False, "unsigned")
    assert result.records["signed"] is False
    _only(sample.client, sample.repository, result.digest, sbom.MEDIA_TYPE)


def test_bad_signing_key_fails_before_anything_is_built(sample, tmp_path):
    policy = sample.root / "manifests/policy.yml"
    policy.write_text(policy.read_text() + f"signing:\n  key: file:{tmp_path / 'missing.key'}\n")
    sample.commit("a key that is not there")
    before = sample.tags()
    with pytest.raises(Exception) as raised:
        publish(sample.root, [SOLO], channel="staging", client=sample.client, engine=sample.engine,
                reporter=Reporter(err=io.StringIO()))
    assert "signing.key" in str(raised.value) and "missing.key" in str(raised.value)
    assert sample.tags() == before


def test_matrix_final_job_attaches_the_index_records(tmp_path, registry, unique_repo, signing_keys):
    """`publish --move-from`: the legs attached their images' records; the index it pushes gets its own."""
    from lifecycle.build import imageinfo
    from lifecycle.build.imageinfo import ImageInfo
    from tests.fixtures.consumers import run_lifecycle
    from tests.fixtures.gitrepo import make_repo
    from tests.fixtures.images import push_image
    from tests.fixtures.lifecycle_repo import policy_yaml

    amd, arm = "app-1.0-amd64", "app-1.0-arm64v8"
    catalogue = (f"registry: {registry.host}\nrepository: {unique_repo}\nsharedTags:\n  app-1.0: [{amd}, {arm}]\n"
                 "images:\n"
                 f"  - tagBase: {amd}\n    dockerfile: src/app\n    platform: {{os: linux, architecture: amd64}}\n"
                 f"  - tagBase: {arm}\n    dockerfile: src/app\n"
                 "    platform: {os: linux, architecture: arm64, variant: v8}\n")
    policy = policy_yaml() + f"signing:\n  key: file:{signing_keys['trusted'][0]}\n"
    repo = make_repo(tmp_path, {"manifests/images.yml": catalogue, "manifests/policy.yml": policy,
                                "keys/release.pub": signing_keys["trusted"][1].read_text(),
                                "src/app/Dockerfile": "FROM 127.0.0.1:1/base/os:1\n"})
    ws = Workspace.load(WorkTree(repo))
    with registry.client() as client:
        digests = {amd: push_image(client, unique_repo, f"{amd}-20261201000000-aaaaaaa", labels={"p": "amd"}),
                   arm: push_image(client, unique_repo, f"{arm}-20261201000000-aaaaaaa", labels={"p": "arm"},
                                   platform=("linux", "arm64", "v8"))}
        info = tmp_path / "leg.json"
        imageinfo.write(info, "staging", registry.host, unique_repo,
                        [ImageInfo(t, "pushed", ws.definitions[t], "c" * 40, digest=d) for t, d in digests.items()])
        done = run_lifecycle("publish", "--repo", str(repo), "--move-from", str(info), "-o", "json")
        assert done.returncode == 0, done.stderr
        (index,) = json.loads(done.stdout)["indexes"]
        assert index["status"] == "moved" and index["records"]["signed"] is True
        assert index["records"]["components"] == 2
        envelope = _only(client, unique_repo, index["digest"], provenance.ARTIFACT_TYPE)
        checked = signing.verify(envelope, [signing.load_public_key(signing_keys["trusted"][1])])
        assert checked.ok and provenance.subject_digest(checked.document) == index["digest"]
        deps = checked.document["predicate"]["buildDefinition"]["resolvedDependencies"]
        assert {"sha256:" + d["digest"]["sha256"] for d in deps[1:]} == set(digests.values())
        assert provenance.definition_hash(checked.document) == provenance.index_definition(
            {t: ws.definitions[t] for t in (amd, arm)})
        bom = json.loads(_only(client, unique_repo, index["digest"], sbom.MEDIA_TYPE))
        assert sorted(c["version"] for c in bom["components"]) == sorted(digests.values())
