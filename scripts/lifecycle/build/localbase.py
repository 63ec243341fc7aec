"""A tiny base image built from Debian's busybox-static, for tests and local runs.

No external registry is reachable here, so the approved bases of a local or test policy are
seeded into the local registry with this: FROM scratch, the static busybox at /bin/busybox,
every applet linked into /bin (`/bin/sh` included, which every shell-form RUN needs).
An optional marker file /etc/base-release makes a re-seed with another marker a new image and so
a new digest: the way tests simulate an OS patch of a base.

Other platforms (linux/arm64, linux/arm/v7) get the same image from Debian's busybox-static for that
architecture, which eng/local-env.sh extracts into `<repo>/.local/busybox/<debian arch>/busybox`
(or $LIFECYCLE_BUSYBOX_DIR); the one RUN step then runs under QEMU user emulation, which the same
script registers with binfmt_misc.
"""

from __future__ import annotations

import json
import os
import platform as host
import shutil
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from lifecycle.build.engine import Engine, LogFn
from lifecycle.errors import OperationError
from lifecycle.catalogue.platform import Platform
from lifecycle.registry.models import OCI_INDEX
from lifecycle.registry.reference import parse_reference

if TYPE_CHECKING:
    from lifecycle.registry import RegistryClient

BUSYBOX = Path("/bin/busybox")
PT_INTERP = 3
REPO = Path(__file__).resolve().parents[3]  # scripts/lifecycle/build/localbase.py -> the repository
# OCI architecture (+ variant) -> (Debian architecture, ELF e_machine)
DEBIAN_ARCH = {
    ("amd64", None): ("amd64", 62),
    ("arm64", None): ("arm64", 183),
    ("arm64", "v8"): ("arm64", 183),
    ("arm", "v7"): ("armhf", 40),
    ("arm", None): ("armhf", 40),
}
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def busybox_dir() -> Path:
    return Path(os.environ.get("LIFECYCLE_BUSYBOX_DIR") or REPO / ".local" / "busybox")


def busybox_for(platform: str | None) -> Path:
    """The static busybox for `platform` (None: the host's): the host's own /bin/busybox, else the
    extracted Debian binary for that architecture."""
    if platform is None:
        return BUSYBOX
    wanted = Platform.parse(platform)
    key = (wanted.architecture, wanted.variant)
    if key not in DEBIAN_ARCH:
        raise OperationError(f"no busybox base for platform {platform} (known: linux/amd64, linux/arm64, linux/arm/v7)")
    if HOST_ARCH.get(host.machine()) == wanted.architecture:
        return BUSYBOX
    path = busybox_dir() / DEBIAN_ARCH[key][0] / "busybox"
    if not path.is_file():
        raise OperationError(f"{path}: no busybox for {platform}; run eng/local-env.sh up (it extracts Debian's "
                             f"busybox-static:{DEBIAN_ARCH[key][0]} there)")
    return path


def can_run(platform: str) -> bool:
    """Whether this machine runs `platform`'s binaries: natively, or through the QEMU user emulation that
    eng/local-env.sh registers with binfmt_misc (absent without root: then only the host's platform builds)."""
    wanted = Platform.parse(platform)
    if HOST_ARCH.get(host.machine()) == wanted.architecture:
        return True
    emulator = {"arm64": "qemu-aarch64", "arm": "qemu-arm", "amd64": "qemu-x86_64"}.get(wanted.architecture)
    return emulator is not None and (BINFMT / emulator).exists()

def build_base_image(
    engine: Engine, ref: str, *, marker: str = "", busybox: Path | None = None, platform: str | None = None,
    log: LogFn | None = None,
) -> str:
    """Build the busybox base as `ref` (name:tag) for `platform` (None: the host's), push it, return the
    registry's digest. A foreign platform's RUN step needs QEMU emulation (eng/local-env.sh sets it up)."""
    busybox = busybox or busybox_for(platform)
    _require_static(busybox, platform)
    with tempfile.TemporaryDirectory(prefix="lifecycle-base-") as tmp:
        context = Path(tmp)
        shutil.copy2(busybox, context / "busybox")
        lines = [
            "FROM scratch",
            "COPY busybox /bin/busybox",
            # Exec form: there is no /bin/sh until busybox has installed its applets.
            'RUN ["/bin/busybox", "sh", "-c", '
            '"/bin/busybox --install -s /bin && mkdir -p /tmp /root /etc && chmod 1777 /tmp"]',
            f"ENV PATH={PATH}",
        ]
        if marker:
            (context / "base-release").write_text(marker + "\n")
            lines.append("COPY base-release /etc/base-release")
        lines.append('CMD ["sh"]')
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        labels = {"org.opencontainers.image.title": "busybox test base"}
        engine.build(context, dockerfile="Dockerfile", tag=ref, labels=labels, platform=platform, log=log)
    return engine.push(ref, log=log)



def build_base_index(engine: Engine, client: "RegistryClient", ref: str, platforms: Sequence[str], *,
                     marker: str = "", log: LogFn | None = None) -> str:
    """The busybox base as one tag over several platforms, the way the fleet's external bases are published:
    one image per platform pushed as `<ref>-<architecture><variant>`, then an OCI index over them pushed as
    `ref`. Returns the index digest (a re-seed with another marker gives new children and a new index)."""
    target = parse_reference(ref, require_ref=True)
    descriptors = []
    for text in platforms:
        platform = Platform.parse(text)
        digest = build_base_image(engine, f"{ref}-{platform.architecture}{platform.variant or ''}", marker=marker,
                                  platform=text, log=log)
        manifest = client.manifest(target.repository, digest)
        entry = {"architecture": platform.architecture, "os": platform.os}
        if platform.variant:
            entry["variant"] = platform.variant
        descriptors.append({"mediaType": manifest.media_type, "digest": digest, "size": len(manifest.raw),
                            "platform": entry})
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors},
                     sort_keys=True, separators=(",", ":")).encode()
    return client.put_manifest(target.repository, target.tag or "", raw, OCI_INDEX)

def _require_static(busybox: Path, platform: str | None = None) -> None:
    """A FROM scratch image has no dynamic loader: refuse a dynamically linked busybox early, and one built
    for another architecture than `platform`."""
    try:
        data = busybox.read_bytes()
    except OSError as e:
        raise OperationError(f"{busybox}: cannot read busybox ({e}); install the Debian package busybox-static") from e
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2):
        raise OperationError(f"{busybox}: not an ELF executable")
    endian = "<" if data[5] == 1 else ">"
    machine, = struct.unpack_from(endian + "H", data, 0x12)
    if platform is not None:
        wanted = Platform.parse(platform)
        expected = DEBIAN_ARCH.get((wanted.architecture, wanted.variant), (None, None))[1]
        if expected is not None and machine != expected:
            raise OperationError(f"{busybox}: built for ELF machine {machine}, not for {platform} ({expected})")
    if data[4] == 2:  # 64-bit: e_phoff is 8 bytes
        phoff, = struct.unpack_from(endian + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
    else:
        phoff, = struct.unpack_from(endian + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x2A)
    for i in range(phnum):
        p_type, = struct.unpack_from(endian + "I", data, phoff + i * phentsize)
        if p_type == PT_INTERP:
            raise OperationError(
                f"{busybox} is dynamically linked and cannot run in a FROM scratch image; "
                "install the Debian package busybox-static"
            )


DEBIAN_ROOTFS_ENV = "LIFECYCLE_DEBIAN_ROOTFS"


def import_debian_base(engine: Engine, ref: str, rootfs: Path, *, log: LogFn | None = None) -> str:
    """Import the cached Debian root file system (eng/local-env.sh debian-rootfs) as `ref`, push it, return
    the registry's digest. The image is the release suite alone: it lacks the fixes published since the point
    release, like a base image that has not been refreshed."""
    if not rootfs.is_file():
        raise OperationError(f"{rootfs}: no Debian root file system; build it with: bash eng/local-env.sh debian-rootfs")
    engine.import_rootfs(rootfs, ref, changes=[f"ENV PATH={PATH}", 'CMD ["bash"]',
                                               "LABEL org.opencontainers.image.title=debian-minbase-unrefreshed"])
    return engine.push(ref, log=log)
