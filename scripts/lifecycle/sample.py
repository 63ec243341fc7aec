"""A small, real GitOps repository in the shipped layout, built on busybox so it runs anywhere offline.

Used by the main job (`lifecycle cycle`) and by the end-to-end tests: six images with the shapes that
matter (a parent with a child, a multi-stage image whose builder is another catalogue image, an
independent image, and one folder built twice with different build args) on a base seeded into the local
registry. With `arm64=True` (the main job) the independent image's folder is also built for arm64 (v8),
both under one multi-platform shared tag (an OCI index), on a base that is itself an index over amd64 and
arm64 (seed_base).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from lifecycle.build.engine import Engine
from lifecycle.build.localbase import build_base_image, build_base_index
from lifecycle.catalogue.source import run_git
from lifecycle.registry import RegistryClient

REPOSITORY = "lifecycle/prereqs"
BASE_REPOSITORY = "base/busybox"
BASE_TAG = "1"
DEBIAN_REPOSITORY = "base/debian"
DEBIAN_TAG = "12"
LABEL_PREFIX = "io.lifecycle"


@dataclass(frozen=True)
class SampleNames:
    registry: str
    repository: str = REPOSITORY
    base_repository: str = BASE_REPOSITORY
    debian_repository: str = DEBIAN_REPOSITORY

    @property
    def base(self) -> str:
        return f"{self.registry}/{self.base_repository}:{BASE_TAG}"

    @property
    def debian_base(self) -> str:
        """The un-refreshed Debian base (localbase.import_debian_base), for the image where packages matter."""
        return f"{self.registry}/{self.debian_repository}:{DEBIAN_TAG}"

    def ref(self, tagbase: str) -> str:
        return f"{self.registry}/{self.repository}:{tagbase}"


PARENT = "busybox-1.0-amd64"
CHILD = "busybox-1.0-tools-amd64"
MULTISTAGE = "busybox-1.0-bundle-amd64"
SOLO = "busybox-1.0-solo-amd64"
# one Dockerfile folder, two images: the same Dockerfile built with two sets of build args
VARIANT_A = "busybox-1.0-variant-a-amd64"
VARIANT_B = "busybox-1.0-variant-b-amd64"
TAGBASES = (PARENT, CHILD, MULTISTAGE, SOLO, VARIANT_A, VARIANT_B)
# with arm64=True: SOLO's folder built for arm64 too, both published under one shared tag as an OCI index
SOLO_ARM64 = "busybox-1.0-solo-arm64v8"
SOLO_SHARED = "busybox-1.0-solo"
ARM64_TAGBASES = (*TAGBASES, SOLO_ARM64)
BASE_PLATFORMS = ("linux/amd64", "linux/arm64/v8")
DEBIAN = "debian-12-app-amd64"   # added by add_debian_image: busybox has no package manager to check


def sample_files(names: SampleNames, *, max_age_days: int = 30, arm64: bool = False) -> dict[str, str]:
    """Every file of the sample repository, by path (with `arm64`, SOLO_ARM64 and the SOLO_SHARED index too)."""
    files = _files(names, max_age_days)
    if arm64:
        catalog = files["manifests/images.yml"].replace(
            "images:\n", f"sharedTags:\n  {SOLO_SHARED}: [{SOLO}, {SOLO_ARM64}]\nimages:\n", 1)
        files["manifests/images.yml"] = catalog + "".join(f"{line}\n" for line in (
            f"  - tagBase: {SOLO_ARM64}",
            "    dockerfile: src/busybox/1.0/solo/amd64",
            "    platform: {os: linux, architecture: arm64, variant: v8}",
            '''    tests: ["cat /etc/solo-release", 'test "$(uname -m)" = aarch64']''',
            "    owners: [product-team]"))
    return files


def _files(names: SampleNames, max_age_days: int) -> dict[str, str]:
    n = names
    registry = n.registry
    d = textwrap.dedent
    return {
        "manifests/images.yml": d(f"""\
            # yaml-language-server: $schema=../scripts/lifecycle/schemas/images.schema.json
            registry: {registry}
            repository: {n.repository}
            images:
              - tagBase: {PARENT}
                dockerfile: src/busybox/1.0/amd64
                platform: {{os: linux, architecture: amd64}}
                tests: ["test -f /etc/image-release", "grep -q parent /etc/image-release"]
                owners: [platform-team]
              - tagBase: {CHILD}
                dockerfile: src/busybox/1.0/tools/amd64
                platform: {{os: linux, architecture: amd64}}
                buildArgs: {{TOOLS_VERSION: "1"}}
                tests: ["/usr/local/bin/tool --version"]
                owners: [platform-team]
              - tagBase: {MULTISTAGE}
                dockerfile: src/busybox/1.0/bundle/amd64
                platform: {{os: linux, architecture: amd64}}
                tests: ["test -x /opt/bundle/tool"]
                owners: [product-team]
              - tagBase: {SOLO}
                dockerfile: src/busybox/1.0/solo/amd64
                platform: {{os: linux, architecture: amd64}}
                tests: ["cat /etc/solo-release"]
                owners: [product-team]
              - tagBase: {VARIANT_A}
                dockerfile: src/busybox/1.0/variant
                platform: {{os: linux, architecture: amd64}}
                buildArgs: {{VARIANT: "a"}}
                tests: ["grep -q 'variant a' /etc/variant-release"]
                owners: [product-team]
              - tagBase: {VARIANT_B}
                dockerfile: src/busybox/1.0/variant
                platform: {{os: linux, architecture: amd64}}
                buildArgs: {{VARIANT: "b"}}
                tests: ["grep -q 'variant b' /etc/variant-release"]
                owners: [product-team]
            """),
        "manifests/policy.yml": d(f"""\
            # yaml-language-server: $schema=../scripts/lifecycle/schemas/policy.schema.json
            approvedBases:
              - "{registry}/{n.base_repository}:*"
              - "{registry}/{n.debian_repository}:*"
            labelPrefix: {LABEL_PREFIX}
            maxAgeDays: {max_age_days}
            bareTagFollowsLatest: true
            retention:
              days: 90
              keepLast: 1
            """),
        "src/busybox/1.0/amd64/Dockerfile": d(f"""\
            FROM {n.base}
            RUN echo "parent v1" > /etc/image-release
            """),
        "src/busybox/1.0/tools/amd64/Dockerfile": d(f"""\
            FROM {n.ref(PARENT)}
            ARG TOOLS_VERSION
            COPY tool.sh /usr/local/bin/tool
            RUN chmod +x /usr/local/bin/tool && echo "tools $TOOLS_VERSION" >> /etc/image-release
            """),
        "src/busybox/1.0/tools/amd64/tool.sh": d("""\
            #!/bin/sh
            echo "tool 1.0"
            """),
        "src/busybox/1.0/bundle/amd64/Dockerfile": d(f"""\
            FROM {n.ref(CHILD)} AS builder
            RUN mkdir -p /opt/bundle && cp /usr/local/bin/tool /opt/bundle/tool

            FROM {n.base}
            COPY --from=builder /opt/bundle /opt/bundle
            """),
        "src/busybox/1.0/solo/amd64/Dockerfile": d(f"""\
            FROM {n.base}
            RUN echo "solo v1" > /etc/solo-release
            """),
        "src/busybox/1.0/variant/Dockerfile": d(f"""\
            FROM {n.base}
            ARG VARIANT
            RUN echo "variant $VARIANT" > /etc/variant-release
            """),
        "README.md": "# Sample GitOps repository for lifecycle\n",
    }


def write_sample(root: Path, names: SampleNames, *, max_age_days: int = 30, arm64: bool = False) -> Path:
    """Write the sample into `root` and make it a git repository with one commit on main."""
    root.mkdir(parents=True, exist_ok=True)
    for path, text in sample_files(names, max_age_days=max_age_days, arm64=arm64).items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if not (root / ".git").exists():
        run_git(root, "init", "-q", "-b", "main")
        run_git(root, "config", "user.name", "lifecycle sample")
        run_git(root, "config", "user.email", "sample@lifecycle.local")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "Sample catalogue")
    return root


def seed_base(engine: Engine, client: RegistryClient, names: SampleNames, marker: str, *, arm64: bool = False) -> str:
    """Build and push the sample's busybox base (`names.base`); with `arm64`, as an index over amd64 and arm64
    (v8, built under emulation), so SOLO and SOLO_ARM64 share one Dockerfile. Returns the tag's digest; a new
    marker is a new base (an "OS patch")."""
    if arm64:
        return build_base_index(engine, client, names.base, BASE_PLATFORMS, marker=marker)
    return build_base_image(engine, names.base, marker=marker)


def add_debian_image(root: Path, names: SampleNames, *, os_upgrade: bool | None = None) -> None:
    """Add the Debian image (on the un-refreshed Debian base) to the sample's catalogue and src/ (not committed)."""
    entry = "".join(f"{line}\n" for line in (
        f"  - tagBase: {DEBIAN}",
        "    dockerfile: src/debian/12/app/amd64",
        "    platform: {os: linux, architecture: amd64}",
        '    tests: ["test -f /etc/app-release", "dpkg -s apt >/dev/null"]',
        "    owners: [platform-team]"))
    if os_upgrade is not None:
        entry += f"    osUpgrade: {'true' if os_upgrade else 'false'}\n"
    catalog = root / "manifests/images.yml"
    catalog.write_text(catalog.read_text(encoding="utf-8") + entry, encoding="utf-8")
    dockerfile = root / "src/debian/12/app/amd64/Dockerfile"
    dockerfile.parent.mkdir(parents=True, exist_ok=True)
    dockerfile.write_text(f"FROM {names.debian_base}\nRUN echo app > /etc/app-release\n", encoding="utf-8")


def set_os_upgrade(root: Path, tagbase: str, value: bool) -> None:
    """Turn the catalogue's osUpgrade on or off for one image (a line edit that keeps the file as written)."""
    catalog = root / "manifests/images.yml"
    lines = catalog.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- tagBase: {tagbase}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("- ")), len(lines))
    kept = [line for line in lines[start + 1:end] if not line.strip().startswith("osUpgrade:")]
    lines[start + 1:end] = kept + [f"    osUpgrade: {'true' if value else 'false'}\n"]
    catalog.write_text("".join(lines), encoding="utf-8")
