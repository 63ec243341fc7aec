"""Reliability sweep, the engine stopped mid-build: publish exits 1 with a clear error and no tag moves.

A private engine (its own state directory, socket and storage) is started for this test so the session's
engine is never touched, and stopped with eng/local-env.sh while a slow build step runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO
from tests.e2e.test_sweep_faults import assert_complete
from tests.fixtures.engine import local_env, start_local_env

pytestmark = [pytest.mark.e2e, pytest.mark.engine]


@pytest.fixture
def private_engine():
    state = Path(tempfile.mkdtemp(prefix="lc-sweep-"))   # short: the socket path lives in it
    try:
        env = start_local_env(state, "engine")
        yield state, env["DOCKER_HOST"]
    finally:
        local_env("down", state)
        shutil.rmtree(state, ignore_errors=True)


def test_engine_stopped_mid_build(sample, private_engine):
    state, docker_host = private_engine
    first = sample.cli("publish", "--channel", "staging", "--all", "--repo", str(sample.root))
    assert first.returncode == 0, first.stderr
    before = assert_complete(sample.client, sample.repository)

    sample.write("src/busybox/1.0/amd64/Dockerfile",
                 f"FROM {sample.names.base}\nRUN echo sweep-slow-step && sleep 120\n"
                 "RUN echo 'parent v2' > /etc/image-release\n")
    sample.commit("parent v2, slow to build")
    process = subprocess.Popen(
        [sys.executable, "-m", "lifecycle", "publish", "--channel", "staging", "--all", "--repo", str(sample.root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "DOCKER_HOST": docker_host, "PYTHONUNBUFFERED": "1"})
    log: list[str] = []   # progress and build output go to stderr
    started = threading.Event()

    def read() -> None:
        for line in process.stderr:
            log.append(line)
            if "sweep-slow-step" in line and "RUN" not in line:   # the step's own output: it is running
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(90), "the slow build step never started:\n" + "".join(log)
        stopped = time.monotonic()
        down = local_env("down", state)
        assert down.returncode == 0, down.stderr
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    report, err = process.stdout.read(), "".join(log)
    assert time.monotonic() - stopped < 100, "publish waited for the dead engine's sleep"
    assert process.returncode == 1, report + err
    assert "Traceback" not in err, err
    # the parent failed naming the engine, its descendants were not attempted, the independent image was current
    failure = [line for line in err.splitlines() if line.startswith(f"error: {PARENT}:")]
    assert failure and "build" in failure[0].lower(), err
    assert f"failed: {PARENT}" in err and CHILD in err.splitlines()[-1] and MULTISTAGE in err.splitlines()[-1], err
    assert f"{SOLO}-staging already has this definition" in report
    # nothing moved, nothing half-pushed
    assert assert_complete(sample.client, sample.repository) == before
