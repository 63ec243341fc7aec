"""Benchmark: what the supply-chain records add to publish, per image (issue 24).

    .venv/bin/python -m tests.bench.bench_records

Publishes the busybox sample cold with a signing key (the normal path), on the engine and registry of
`eng/local-env.sh up` when DOCKER_HOST and LIFECYCLE_REGISTRY are set, else on a private pair it starts.
The two steps records add are timed around their calls (publish_records.inventory: the package listing
container; publish_records.attach_image: provenance + SBOM as referrers) and the registry requests made
inside the attach are counted from the client's stats. Goal: at most 24 registry requests per image for
the two referrers on a registry without the referrers API (fallback index kept by the pusher).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lifecycle.build import publish_records  # noqa: E402
from lifecycle.build.engine import Engine  # noqa: E402
from lifecycle.build.localbase import build_base_image  # noqa: E402
from lifecycle.build.publish import publish  # noqa: E402
from lifecycle.output import Reporter  # noqa: E402
from lifecycle.registry.pool import RegistryPool  # noqa: E402
from lifecycle.sample import SampleNames, write_sample  # noqa: E402
from tests.fixtures.engine import local_env, start_local_env  # noqa: E402
from tests.fixtures.signing_keys import write_keypair  # noqa: E402

GOAL_REQUESTS = 24


def main() -> int:
    timings: dict[str, list[float]] = {"inventory": [], "attach": []}
    attach_requests: list[int] = []
    real_inventory, real_attach = publish_records.inventory, publish_records.attach_image

    def inventory(engine, target):
        started = time.perf_counter()
        try:
            return real_inventory(engine, target)
        finally:
            timings["inventory"].append(time.perf_counter() - started)

    def attach_image(writer, image, info, found):
        before = sum(writer.client.stats.values())
        started = time.perf_counter()
        try:
            return real_attach(writer, image, info, found)
        finally:
            timings["attach"].append(time.perf_counter() - started)
            attach_requests.append(sum(writer.client.stats.values()) - before)

    publish_records.inventory, publish_records.attach_image = inventory, attach_image
    with tempfile.TemporaryDirectory(prefix="bench-records-") as tmp, ExitStack() as stack:
        if os.environ.get("DOCKER_HOST") and os.environ.get("LIFECYCLE_REGISTRY"):
            env = {"DOCKER_HOST": os.environ["DOCKER_HOST"], "LIFECYCLE_REGISTRY": os.environ["LIFECYCLE_REGISTRY"]}
        else:
            state = Path(tmp) / "state"
            env = start_local_env(state)
            stack.callback(local_env, "down", state)
        registry = env["LIFECYCLE_REGISTRY"]
        stamp = str(int(time.time()))
        names = SampleNames(registry, f"bench-records-{stamp}/prereqs", f"bench-records-{stamp}/base")
        private, _ = write_keypair(Path(tmp), "bench")
        with Engine(env["DOCKER_HOST"]) as engine, RegistryPool() as pool:
            build_base_image(engine, names.base, marker=f"bench records {stamp}")
            root = write_sample(Path(tmp) / "repo", names)
            policy = root / "manifests/policy.yml"
            policy.write_text(policy.read_text() + f"signing:\n  key: file:{private}\n")
            client = pool.get(registry)
            client.reset_stats()
            started = time.perf_counter()
            report = publish(root, None, channel="staging", client=client, engine=engine,
                             reporter=Reporter(err=open(os.devnull, "w")), pool=pool, build_log=lambda line: None)
            total = time.perf_counter() - started
            total_requests = sum(client.stats.values())
    publish_records.inventory, publish_records.attach_image = real_inventory, real_attach
    assert report.ok, [r.reason for r in report.results]
    n = len(attach_requests)
    inv, att = sum(timings["inventory"]), sum(timings["attach"])
    print(f"| cold publish of {n} images, signed records | seconds | per image | registry requests | per image |")
    print("|---|---|---|---|---|")
    print(f"| whole publish | {total:.1f} | {total / n:.2f} | {total_requests} | {total_requests / n:.1f} |")
    print(f"| package inventory (one container) | {inv:.1f} | {inv / n:.2f} | 0 | 0 |")
    print(f"| attach provenance + SBOM | {att:.1f} | {att / n:.2f} | {sum(attach_requests)} | "
          f"{sum(attach_requests) / n:.1f} |")
    share = (inv + att) / total
    print(f"\nrecords' share of the publish wall time: {share:.1%}; "
          f"requests per image for the records: max {max(attach_requests)} (goal <= {GOAL_REQUESTS})")
    return 0 if max(attach_requests) <= GOAL_REQUESTS else 1


if __name__ == "__main__":
    sys.exit(main())
