"""arm64 and arm/v7 images built and tested for real, under QEMU user emulation (eng/local-env.sh sets it up).

A small catalogue on arm bases seeded from Debian's busybox-static for arm64 and armhf: an arm64 image with
an in-repo child (so pinning and the lineage check run for a foreign platform too) and an arm/v7 image.
Their tests run inside the images and only pass where `uname -m` says the emulated machine.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import pytest

from lifecycle.build.labels import BASE_DIGEST
from lifecycle.build.localbase import build_base_image
from lifecycle.catalogue.platform import Platform
from lifecycle.build.publish import publish
from tests.fixtures.gitops_origin import quiet
from tests.fixtures.gitrepo import make_repo
from tests.fixtures.images import push_index

pytestmark = [pytest.mark.e2e, pytest.mark.engine]

ARM64 = "busybox-1.0-arm64"
ARM64_CHILD = "busybox-1.0-tools-arm64"
ARM32 = "busybox-1.0-arm32v7"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
_counter = itertools.count()


def _repo(tmp_path: Path, registry: str, repository: str, bases: dict[str, str]) -> Path:
    d = textwrap.dedent
    files = {
        "manifests/images.yml": d(f"""\
            registry: {registry}
            repository: {repository}
            images:
              - tagBase: {ARM64}
                dockerfile: src/busybox/1.0/arm64
                platform: {{os: linux, architecture: arm64}}
                tests: ['test "$(uname -m)" = aarch64', "grep -qx aarch64 /etc/build-machine"]
              - tagBase: {ARM64_CHILD}
                dockerfile: src/busybox/1.0/tools/arm64
                platform: {{os: linux, architecture: arm64}}
                tests: ["grep -qx 'tools aarch64' /etc/tools"]
              - tagBase: {ARM32}
                dockerfile: src/busybox/1.0/arm32v7
                platform: {{os: linux, architecture: arm, variant: v7}}
                tests: ['test "$(uname -m)" = armv7l', "grep -qx armv7l /etc/build-machine"]
            """),
        "manifests/policy.yml": d(f"""\
            approvedBases:
              - "{bases['arm64'].rsplit(':', 1)[0]}:*"
            labelPrefix: io.lifecycle
            maxAgeDays: 30
            retention:
              days: 90
              keepLast: 1
            """),
        # the build's RUN steps run under emulation too: what they record is the emulated machine
        "src/busybox/1.0/arm64/Dockerfile": f"FROM {bases['arm64']}\nRUN uname -m > /etc/build-machine\n",
        "src/busybox/1.0/tools/arm64/Dockerfile":
            f"FROM {registry}/{repository}:{ARM64}\nRUN echo \"tools $(uname -m)\" > /etc/tools\n",
        "src/busybox/1.0/arm32v7/Dockerfile": f"FROM {bases['arm']}\nRUN uname -m > /etc/build-machine\n",
    }
    return make_repo(tmp_path, files, "arm catalogue")


def test_arm64_and_arm_v7_images_are_built_and_tested_under_emulation(registry, engine, tmp_path):
    for entry in ("qemu-aarch64", "qemu-arm"):
        assert (BINFMT / entry).exists(), f"{BINFMT / entry} missing: eng/local-env.sh up registers it"
    n = next(_counter)
    repository = f"arm{n}/prereqs"
    bases = {"arm64": f"{registry.host}/arm{n}/base:1-arm64", "arm": f"{registry.host}/arm{n}/base:1-arm"}
    base_digests = {"arm64": build_base_image(engine, bases["arm64"], platform="linux/arm64"),
                    "arm": build_base_image(engine, bases["arm"], platform="linux/arm/v7")}
    root = _repo(tmp_path, registry.host, repository, bases)
    with registry.client() as client:
        report = publish(root, None, channel="staging", client=client, engine=engine, reporter=quiet())
        by = {r.tagbase: r for r in report.results}
        assert report.ok, {t: r.reason for t, r in by.items()}
        assert {t: r.status for t, r in by.items()} == {ARM64: "published", ARM64_CHILD: "published",
                                                        ARM32: "published"}
        assert all(test["passed"] for r in report.results for test in r.tests) and by[ARM32].tests
        wanted = {ARM64: Platform("linux", "arm64"), ARM64_CHILD: Platform("linux", "arm64"),
                  ARM32: Platform("linux", "arm", "v7")}
        for tagbase, platform in wanted.items():
            config = client.config(repository, f"{tagbase}-staging")
            assert config.platform is not None
            assert (config.platform.os, config.platform.architecture) == (platform.os, platform.architecture)
            assert config.platform.variant in ((platform.variant,) if platform.variant else (None, "v8"))
        assert client.config(repository, by[ARM64].digest).labels[BASE_DIGEST] == base_digests["arm64"]
        assert client.config(repository, by[ARM32].digest).labels[BASE_DIGEST] == base_digests["arm"]
        # the arm64 child descends from the arm64 parent this run built
        def diff_ids(digest: str) -> list[str]:
            manifest = client.manifest(repository, digest)
            return json.loads(client.blob(repository, manifest.config.digest))["rootfs"]["diff_ids"]
        parent_layers = diff_ids(by[ARM64].digest)
        assert diff_ids(by[ARM64_CHILD].digest)[:len(parent_layers)] == parent_layers
        assert client.config(repository, by[ARM64_CHILD].digest).labels[BASE_DIGEST] == by[ARM64].digest
    # the pushed images run under emulation: uname -m prints the emulated machine
    for tagbase, machine in ((ARM64, "aarch64"), (ARM32, "armv7l")):
        ref = f"{registry.host}/{repository}:{tagbase}-staging"
        engine.remove(ref)
        engine.pull(ref, platform=str(wanted[tagbase]))
        result = engine.run_test(ref, "uname -m; cat /etc/build-machine")
        assert result.output.split() == [machine, machine]


def test_a_multi_platform_base_is_built_on_per_platform_by_digest(registry, engine, tmp_path):
    """The fleet's external bases are indexes (one tag, several platforms). Each image is built on its own
    platform's manifest of the index the tag resolved to; the label records the index digest, and the
    lineage check compares against that platform's layers."""
    n = next(_counter)
    base_repo, repository = f"mp{n}/base", f"mp{n}/prereqs"
    with registry.client() as client:
        children = {
            ("linux", "amd64"): build_base_image(engine, f"{registry.host}/{base_repo}:amd64", platform="linux/amd64"),
            ("linux", "arm64"): build_base_image(engine, f"{registry.host}/{base_repo}:arm64", platform="linux/arm64"),
        }
        index = push_index(client, base_repo, "1", [(d, p) for p, d in children.items()])
        base = f"{registry.host}/{base_repo}:1"
        images = {"busybox-1.0-amd64": ("amd64", "x86_64"), "busybox-1.0-arm64": ("arm64", "aarch64")}
        catalogue = [f"registry: {registry.host}", f"repository: {repository}", "images:"]
        files = {}
        for tagbase, (arch, machine) in images.items():
            catalogue += [f"  - tagBase: {tagbase}", f"    dockerfile: src/busybox/1.0/{arch}",
                          f"    platform: {{os: linux, architecture: {arch}}}",
                          f"    tests: ['test \"$(uname -m)\" = {machine}']"]
            files[f"src/busybox/1.0/{arch}/Dockerfile"] = f"FROM {base}\nRUN uname -m > /etc/build-machine\n"
        files["manifests/images.yml"] = "\n".join(catalogue) + "\n"
        files["manifests/policy.yml"] = (
            f'approvedBases: ["{registry.host}/{base_repo}:*"]\nlabelPrefix: io.lifecycle\nmaxAgeDays: 30\n'
            "retention: {days: 90, keepLast: 1}\n")
        root = make_repo(tmp_path, files, "mp")
        report = publish(root, None, channel="staging", client=client, engine=engine, reporter=quiet())
        by = {r.tagbase: r for r in report.results}
        assert report.ok, {t: r.reason for t, r in by.items()}

        def diff_ids(repo: str, digest: str) -> list[str]:
            manifest = client.manifest(repo, digest)
            return json.loads(client.blob(repo, manifest.config.digest))["rootfs"]["diff_ids"]

        for tagbase, (arch, _) in images.items():
            record = by[tagbase]
            assert record.status == "published" and record.base_digest == index
            assert client.config(repository, record.digest).labels[BASE_DIGEST] == index
            base_layers = diff_ids(base_repo, children[("linux", arch)])
            assert diff_ids(repository, record.digest)[:len(base_layers)] == base_layers
        # the two platforms' bases really differ (else the check above could not tell them apart)
        assert diff_ids(base_repo, children[("linux", "amd64")]) != diff_ids(base_repo, children[("linux", "arm64")])


def _scratch_repo(tmp_path: Path, registry: str, repository: str, images: dict[str, str]) -> Path:
    """A catalogue of FROM scratch images that copy the same file: {tag base: platform}."""
    catalogue = [f"registry: {registry}", f"repository: {repository}", "images:"]
    files = {}
    for tagbase, platform in images.items():
        parsed = Platform.parse(platform)
        folder = "src/" + tagbase.replace("-", "/")
        files[f"{folder}/Dockerfile"] = "FROM scratch\nCOPY hello /hello\n"
        files[f"{folder}/hello"] = "hello\n"
        variant = f", variant: {parsed.variant}" if parsed.variant else ""
        catalogue += [f"  - tagBase: {tagbase}", f"    dockerfile: src/{tagbase.replace('-', '/')}",
                      f"    platform: {{os: linux, architecture: {parsed.architecture}{variant}}}"]
    files["manifests/images.yml"] = "\n".join(catalogue) + "\n"
    files["manifests/policy.yml"] = (f'approvedBases: ["{registry}/none/*"]\nlabelPrefix: io.lifecycle\nmaxAgeDays: 30\n'
                                     "retention: {days: 90, keepLast: 1}\n")
    return make_repo(tmp_path, files, "scratch")


def test_identical_steps_for_two_platforms_each_get_their_own_image(registry, engine, tmp_path):
    """podman's build cache ignores the platform: the second of two identical FROM scratch builds comes back as
    the first platform's image. Publish sees the wrong architecture and builds it again without the cache."""
    n = next(_counter)
    repository = f"cache{n}/prereqs"
    images = {f"files-{n}-amd64": "linux/amd64", f"files-{n}-arm64": "linux/arm64"}
    root = _scratch_repo(tmp_path, registry.host, repository, images)
    out = quiet()
    with registry.client() as client:
        report = publish(root, None, channel="staging", client=client, engine=engine, reporter=out)
        assert report.ok, [r.reason for r in report.results]
        for tagbase, platform in images.items():
            assert str(client.config(repository, f"{tagbase}-staging").platform) == platform
    # when the trap springs (the arm64 build comes back from the cache as another platform's image; whether
    # it does depends on what the engine's cache holds) publish must have built it again without the cache
    if f"files-{n}-arm64: the image config" in out.err.getvalue():
        assert "building again without the build cache" in out.err.getvalue()


def test_a_config_for_another_variant_than_the_catalogues_is_removed_again_and_fails(registry, engine, tmp_path):
    """podman builds arm/v7 when asked for arm/v6 and its inspect does not report the variant, so only the
    registry's config shows it: publish checks that after the push, deletes the manifest and fails the image
    before -staging moves."""
    n = next(_counter)
    repository = f"variant{n}/prereqs"
    root = _scratch_repo(tmp_path, registry.host, repository, {f"files-{n}-arm32v6": "linux/arm/v6"})
    with registry.client() as client:
        report = publish(root, None, channel="staging", client=client, engine=engine, reporter=quiet())
        record = report.results[0]
        if report.ok:  # podman built v6 this time (what its cache holds decides): then the registry must say so
            assert str(client.config(repository, record.digest).platform) == "linux/arm/v6"
            return
        assert record.status == "failed"
        assert "the image config (registry) says linux/arm/v7, the catalogue says linux/arm/v6" in record.reason
        assert record.immutable_tag and record.digest
        assert client.tags(repository) == [] and client.try_resolve(repository, record.digest) is None
