"""Benchmark: publish the sample catalogue cold, then warm (a no-op), on a private engine and registry.

    .venv/bin/python -m tests.bench.bench_publish

Starts eng/local-env.sh in a fresh temporary state (packages must be installed), seeds the busybox base,
writes the sample repository (four images: a parent, its child, a multi-stage image built from the child,
an independent image) and publishes it twice. The second run changes nothing; what it costs is the
skip check: registry requests per image (the channel tag's manifest and config, read by tag: 2; plus one
HEAD per distinct external base for the whole run).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lifecycle.build.engine import Engine  # noqa: E402
from lifecycle.build.localbase import build_base_image  # noqa: E402
from lifecycle.output import Reporter  # noqa: E402
from lifecycle.build.publish import publish  # noqa: E402
from lifecycle.registry.pool import RegistryPool  # noqa: E402
from lifecycle.sample import TAGBASES, SampleNames, write_sample  # noqa: E402
from tests.fixtures.engine import local_env, start_local_env  # noqa: E402


def requests(pool: RegistryPool) -> int:
    return sum(sum(c.stats.values()) for c in pool.clients.values())


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        state = Path(tmp) / "state"
        env = start_local_env(state)
        try:
            registry = env["LIFECYCLE_REGISTRY"]
            names = SampleNames(registry, "bench/prereqs", "bench/base")
            with Engine(env["DOCKER_HOST"]) as engine, RegistryPool() as pool:
                build_base_image(engine, names.base, marker="bench")
                root = write_sample(Path(tmp) / "repo", names)
                quiet = Reporter(err=open("/dev/null", "w"))
                rows = []
                for label in ("cold", "warm (no-op)"):
                    for client in pool.clients.values():
                        client.reset_stats()
                    started = time.perf_counter()
                    report = publish(root, None, channel="staging", client=pool.get(registry), engine=engine,
                                     reporter=quiet, pool=pool, build_log=lambda line: None)
                    seconds = time.perf_counter() - started
                    assert report.ok, [r.reason for r in report.results]
                    statuses = {r.status for r in report.results}
                    rows.append((label, seconds, requests(pool), statuses))
        finally:
            local_env("down", state)
    n = len(TAGBASES)
    print(f"| publish of {n} images | wall | registry requests | requests per image | result |")
    print("|---|---|---|---|---|")
    for label, seconds, count, statuses in rows:
        print(f"| {label} | {seconds:.1f} s | {count} | {count / n:.2f} | {', '.join(sorted(statuses))} |")
    cold, warm = rows[0][1], rows[1][1]
    print(f"\nwarm/cold wall-time ratio: {warm / cold:.3f}")
    return 0 if rows[1][3] == {"skipped"} else 1


if __name__ == "__main__":
    sys.exit(main())
