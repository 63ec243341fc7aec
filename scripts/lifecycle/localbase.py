"""A tiny base image built from Debian's busybox-static, for tests and local runs.

No external registry is reachable here, so the approved bases of a local or test policy are
seeded into the local registry with this: FROM scratch, the static busybox at /bin/busybox,
every applet linked into /bin (`/bin/sh` included, which every shell-form RUN needs).
An optional marker file /etc/base-release makes a re-seed with another marker a new image and so
a new digest: the way tests simulate an OS patch of a base.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from pathlib import Path

from .engine import Engine, LogFn
from .errors import OperationError

BUSYBOX = Path("/bin/busybox")
PT_INTERP = 3
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def build_base_image(
    engine: Engine, ref: str, *, marker: str = "", busybox: Path = BUSYBOX, log: LogFn | None = None
) -> str:
    """Build the busybox base as `ref` (name:tag), push it, return the registry's digest."""
    _require_static(busybox)
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
        engine.build(context, dockerfile="Dockerfile", tag=ref, labels=labels, log=log)
    return engine.push(ref, log=log)


def _require_static(busybox: Path) -> None:
    """A FROM scratch image has no dynamic loader: refuse a dynamically linked busybox early."""
    try:
        data = busybox.read_bytes()
    except OSError as e:
        raise OperationError(f"{busybox}: cannot read busybox ({e}); install the Debian package busybox-static") from e
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise OperationError(f"{busybox}: not a 64-bit ELF executable")
    endian = "<" if data[5] == 1 else ">"
    phoff, = struct.unpack_from(endian + "Q", data, 0x20)
    phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
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
