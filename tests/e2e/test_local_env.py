"""eng/local-env.sh: up is idempotent and prints a usable environment, down leaves nothing running."""

from __future__ import annotations

import os
import subprocess
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from lifecycle.build.engine import Engine
from lifecycle.build.localbase import busybox_for
from tests.fixtures.engine import kind_of, local_env, parse_env
from tests.fixtures.registry import ENGINE_PORTS, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def state():
    path = Path(tempfile.mkdtemp(prefix="lc-env-"))  # short: the engine socket lives here
    yield path
    local_env("down", path)
    shutil.rmtree(path)  # fails on anything an engine left mounted or locked there


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.parametrize("kind", ["podman", "docker"])
def test_up_twice_then_down(state, kind):
    port = free_port(range(ENGINE_PORTS.stop - 1, ENGINE_PORTS.start - 1, -1))
    first = local_env("up", state, port=port, kind=kind)
    assert first.returncode == 0, first.stderr
    env = parse_env(first.stdout)
    assert env["DOCKER_HOST"] == f"unix://{state}/{kind}.sock"
    assert env["LIFECYCLE_REGISTRY"] == f"127.0.0.1:{port}"
    pids = {name: int((state / f"{name}.pid").read_text()) for name in (kind, "registry")}

    with Engine(env["DOCKER_HOST"]) as engine:
        assert kind_of(engine) == kind
        if kind == "podman":
            conf = (state / "containers" / "containers.conf").read_text()
            assert f'"nofile={os.sysconf("SC_OPEN_MAX")}:' in conf and '"nproc=4096:4096"' in conf
            assert 'cgroup_manager = "cgroupfs"' in conf and 'runtime = "runc"' in conf
            # root may mount a kernel overlay (the CI machines): overlay, else vfs; the engine uses what the file says
            driver = "overlay" if os.geteuid() == 0 else "vfs"
            assert f'driver = "{driver}"' in (state / "containers" / "storage.conf").read_text()
            assert engine.info()["Driver"] == driver
        else:
            # Everything of its own under the state: shares nothing with a system daemon.
            info = engine.info()
            assert info["DockerRootDir"] == str(state / "docker" / "root")
            assert info["Driver"] == os.environ.get("LIFECYCLE_DOCKER_STORAGE_DRIVER", info["Driver"])
            assert info["Driver"] in ("overlay2", "vfs")
            assert any(r.startswith("127.0.0.0/8") for r in info["RegistryConfig"]["InsecureRegistryCIDRs"])
    assert httpx.get(f"http://{env['LIFECYCLE_REGISTRY']}/v2/").status_code == 200

    second = local_env("up", state, kind=kind)  # no port given: keeps the running registry's
    assert second.returncode == 0, second.stderr
    assert parse_env(second.stdout) == env
    assert "already running" in second.stderr
    assert {name: int((state / f"{name}.pid").read_text()) for name in pids} == pids
    assert local_env("status", state, kind=kind).returncode == 0

    down = local_env("down", state)  # no kind: every engine this state runs
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids.values())
    assert not (state / f"{kind}.sock").exists()
    stopped = local_env("status", state, kind=kind)
    assert stopped.returncode == 1 and "engine: stopped" in stopped.stdout
    if kind == "docker":  # its containerd and its mounts went with it: the state can be removed
        leftovers = subprocess.run(["pgrep", "-f", str(state / "docker" / "exec")], capture_output=True, text=True)
        assert leftovers.stdout == ""
        assert str(state) not in Path("/proc/self/mounts").read_text()


def test_port_outside_the_engine_range_is_refused(state):
    done = local_env("up", state, "registry", port=5000)
    assert done.returncode == 1
    assert "outside 55000-55049" in done.stderr
    assert not (state / "registry.pid").exists()


def test_install_sets_up_emulation_and_foreign_busyboxes(state):
    """binfmt_misc mounted, aarch64 and arm registered (fix-binary, so they work in containers), and Debian's
    busybox-static for arm64 and armhf extracted where lifecycle.build.localbase looks for them."""
    done = local_env("install", state)
    assert done.returncode == 0, done.stderr
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    assert (binfmt / "status").read_text().strip() == "enabled"
    for entry in ("qemu-aarch64", "qemu-arm"):
        text = (binfmt / entry).read_text()
        assert text.splitlines()[0] == "enabled"
        flags = next(line for line in text.splitlines() if line.startswith("flags:"))
        assert "F" in flags.split(":", 1)[1]
    for platform, machine, e_machine in (("linux/arm64", "aarch64", 183), ("linux/arm/v7", "armv7l", 40)):
        binary = busybox_for(platform)
        data = binary.read_bytes()
        assert data[:4] == b"\x7fELF" and int.from_bytes(data[0x12:0x14], "little") == e_machine
        # a foreign binary run straight from the host: the kernel hands it to qemu through binfmt_misc
        ran = subprocess.run([str(binary), "uname", "-m"], capture_output=True, text=True, timeout=60)
        assert ran.stdout.strip() == machine, ran.stderr
    assert "busybox for" not in done.stderr  # present already (eng/test.sh ran up): nothing downloaded again
