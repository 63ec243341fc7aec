"""Benchmark: local environment start-up and busybox build+push times.

    .venv/bin/python -m tests.bench.bench_engine

Starts eng/local-env.sh in a fresh temporary state (packages must be installed), then measures:
`up` (cold state), the busybox base build+push (cold cache and warm cache), a child image's
build+push, a test run, `up` again (already running), `down`, and `up` on a warm state.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from lifecycle.build.engine import Engine
from lifecycle.build.localbase import build_base_image
from tests.fixtures.engine import local_env, parse_env


def timed(results: list[tuple[str, float]], name: str, fn):
    start = time.perf_counter()
    value = fn()
    results.append((name, time.perf_counter() - start))
    return value


def up(state: Path) -> dict[str, str]:
    done = local_env("up", state)
    if done.returncode:
        raise SystemExit(done.stderr)
    return parse_env(done.stdout)


def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="lc-bench-"))
    results: list[tuple[str, float]] = []
    try:
        env = timed(results, "up (fresh state, packages present)", lambda: up(state))
        registry = env["LIFECYCLE_REGISTRY"]
        with Engine(env["DOCKER_HOST"]) as engine:
            base = f"{registry}/base/busybox:1"
            digest = timed(results, "busybox base build+push (cold)", lambda: build_base_image(engine, base))
            timed(results, "busybox base build+push (cached)", lambda: build_base_image(engine, base))
            timed(results, "busybox base build+push (new marker)",
                  lambda: build_base_image(engine, base, marker="patch 2"))
            pinned = f"{registry}/base/busybox@{digest}"
            timed(results, "pull base by digest", lambda: engine.pull(pinned))
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "Dockerfile").write_text(f"FROM {pinned}\nRUN echo child > /child\n")
                child = f"{registry}/bench/child:1"
                timed(results, "child build (one RUN)", lambda: engine.build(Path(tmp), tag=child, no_cache=True))
                timed(results, "child push", lambda: engine.push(child))
                timed(results, "test run (sh -c true)", lambda: engine.run_test(child, "true"))
        timed(results, "up (already running)", lambda: up(state))
        timed(results, "down", lambda: local_env("down", state))
        timed(results, "up (warm state, stopped)", lambda: up(state))
    finally:
        local_env("down", state)
        shutil.rmtree(state, ignore_errors=True)
    width = max(len(name) for name, _ in results)
    for name, seconds in results:
        print(f"{name:<{width}}  {seconds:6.2f} s")


if __name__ == "__main__":
    main()
