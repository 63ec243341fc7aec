"""Benchmark: what the supply-chain records add to publish, per image (issue 24).

    .venv/bin/python -m tests.bench.bench_records

Publishes the busybox sample cold with a signing key (the normal path), on the engine and registry of
`eng/local-env.sh up` when DOCKER_HOST and LIFECYCLE_REGISTRY are set, else on a private pair it starts.
The two steps records add are timed around their calls (publish_records.inventory: the package listing
container, run in a thread beside the tests and the push; publish_records.attach_image: provenance + SBOM
as referrers) and the registry requests made inside the attach are counted from the client's stats. Goal: at most 24 registry requests per image for
the two referrers on a registry without the referrers API (fallback index kept by the pusher).

Then the routine runs, each with and without the records (publish_records.writer_for answering None is a
publish that attaches nothing), alternating so that both see the same machine: a no-op publish (nothing
changed) and a one-change publish (one leaf's Dockerfile edited and committed: one real build, test, push).
Goal: records within 10 % of the run without them (median of ROUTINE_RUNS each). The fleet benchmark
measures both runs at 250 images too (its one change is one real build on a fleet made through the API).
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, TypeVar

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lifecycle.build import publish_records  # noqa: E402
from lifecycle.build.engine import Engine  # noqa: E402
from lifecycle.build.localbase import build_base_image  # noqa: E402
from lifecycle.build.publish import publish  # noqa: E402
from lifecycle.catalogue.source import run_git  # noqa: E402
from lifecycle.output import Reporter  # noqa: E402
from lifecycle.registry.pool import RegistryPool  # noqa: E402
from lifecycle.sample import SampleNames, write_sample  # noqa: E402
from tests.fixtures.engine import local_env, start_local_env  # noqa: E402
from tests.fixtures.signing_keys import write_keypair  # noqa: E402

T = TypeVar("T")
GOAL_REQUESTS = 24
GOAL_OVERHEAD = 0.10
ROUTINE_RUNS = int(os.environ.get("RECORDS_RUNS", "3"))
LEAF_DOCKERFILE = "src/busybox/1.0/solo/amd64/Dockerfile"


def with_and_without_records(runs: int, measure: Callable[[], T]) -> dict[bool, list[T]]:
    """{records?: [measure(), ...]}: `runs` times with the records (as production publishes) and `runs` times
    without (publish_records.writer_for answering None: a publish that attaches nothing), alternating so that
    both meet the same machine. bench_fleet measures its no-op publish with it too."""
    real = publish_records.writer_for
    results: dict[bool, list[T]] = {True: [], False: []}
    try:
        for i in range(2 * runs):
            records = i % 2 == 0
            publish_records.writer_for = real if records else (lambda *args, **kwargs: None)
            results[records].append(measure())
    finally:
        publish_records.writer_for = real
    return results


def engine_env(stack: ExitStack, tmp: Path) -> dict[str, str]:
    """DOCKER_HOST and LIFECYCLE_REGISTRY of `eng/local-env.sh up` when both are set, else of a private pair
    started under `tmp` and stopped when `stack` closes. bench_fleet builds on it too."""
    if os.environ.get("DOCKER_HOST") and os.environ.get("LIFECYCLE_REGISTRY"):
        return {"DOCKER_HOST": os.environ["DOCKER_HOST"], "LIFECYCLE_REGISTRY": os.environ["LIFECYCLE_REGISTRY"]}
    state = tmp / "state"
    env = start_local_env(state)
    stack.callback(local_env, "down", state)
    return env


def routine_runs(root: Path, publish_once) -> dict[str, dict[bool, list[float]]]:
    """{"no-op"|"one change": {records?: [seconds, ...]}}: a no-op publish, then one leaf changed and published."""
    changes = itertools.count()

    def both() -> tuple[float, float]:
        no_op = publish_once(expect={"skipped"})
        i = next(changes)
        leaf = root / LEAF_DOCKERFILE
        leaf.write_text(leaf.read_text().replace("solo v", f"solo v{i}."))
        run_git(root, "commit", "-qam", f"solo: change {i}")
        return no_op, publish_once(expect={"skipped", "published"})

    runs = with_and_without_records(ROUTINE_RUNS, both)
    return {what: {records: [pair[k] for pair in runs[records]] for records in runs}
            for k, what in enumerate(("no-op", "one change"))}


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

    def attach_image(writer, repository, image, info, found):
        before = sum(writer.client.stats.values())
        started = time.perf_counter()
        try:
            return real_attach(writer, repository, image, info, found)
        finally:
            timings["attach"].append(time.perf_counter() - started)
            attach_requests.append(sum(writer.client.stats.values()) - before)

    publish_records.inventory, publish_records.attach_image = inventory, attach_image
    with tempfile.TemporaryDirectory(prefix="bench-records-") as tmp, ExitStack() as stack:
        env = engine_env(stack, Path(tmp))
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

            def publish_once(expect: set[str]) -> float:
                t0 = time.perf_counter()
                done = publish(root, None, channel="staging", client=client, engine=engine,
                               reporter=Reporter(err=open(os.devnull, "w")), pool=pool, build_log=lambda line: None)
                elapsed = time.perf_counter() - t0
                assert done.ok and {r.status for r in done.results} == expect, \
                    [(r.tagbase, r.status, r.reason) for r in done.results]
                return elapsed

            routine = routine_runs(root, publish_once)
    n = len(attach_requests)
    inv, att = sum(timings["inventory"]), sum(timings["attach"])
    print(f"| cold publish of {n} images, signed records | seconds | per image | registry requests | per image |")
    print("|---|---|---|---|---|")
    print(f"| whole publish | {total:.1f} | {total / n:.2f} | {total_requests} | {total_requests / n:.1f} |")
    print(f"| package inventory (one container, beside the tests and the push) | {inv:.1f} | {inv / n:.2f} | 0 | 0 |")
    print(f"| attach provenance + SBOM | {att:.1f} | {att / n:.2f} | {sum(attach_requests)} | "
          f"{sum(attach_requests) / n:.1f} |")
    share = (inv + att) / total
    print(f"\nthe records' steps took {share:.1%} of the publish wall time (the inventory overlaps the tests and the push); "
          f"requests per image for the records: max {max(attach_requests)} (goal <= {GOAL_REQUESTS})")
    print(f"\n| routine publish of the {n}-image sample, median of {ROUTINE_RUNS} | with records | without | "
          f"overhead | goal |")
    print("|---|---|---|---|---|")
    met = max(attach_requests) <= GOAL_REQUESTS
    for what, runs in routine.items():
        with_, without = statistics.median(runs[True]), statistics.median(runs[False])
        overhead = with_ / without - 1
        ok = overhead <= GOAL_OVERHEAD
        met = met and ok
        print(f"| {what} | {with_:.2f} s | {without:.2f} s | {overhead:+.1%} | <= {GOAL_OVERHEAD:.0%}"
              f"{'' if ok else ' (MISSED)'} |")
    print(f"\nload average {os.getloadavg()[0]:.1f}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
