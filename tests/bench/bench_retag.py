"""Benchmark: retag N tags on a local docker-registry, four ways, in one run.

    .venv/bin/python -m tests.bench.bench_retag [--tags 500] [--skopeo-sample 50] [--concurrency 8]

1. `RegistryClient.retag_many` (library batch: plan, then concurrent PUTs);
2. `lifecycle registry retag SRC TAG...` (the CLI, one process, includes Python start-up);
3. a loop of `skopeo copy docker://R/repo:src docker://R/repo:tag-i`, run for a sample and extrapolated
   per tag to N (the per-tag cost is flat: one process and the same requests each time);
4. the floor: one pooled HTTP connection PUTting the known manifest bytes N times, nothing else;
   and the same PUTs from `--concurrency` threads on one pooled client (the floor for a concurrent batch).
5. at a distance (`--latency-ms`, default 20): `retag_many` through a local TCP relay that holds every
   request that long (tests/fixtures/latency_relay.py), as a registry in another region would, with `--concurrency` in flight and with one.
Every tag is checked to resolve to the source digest afterwards. Needs docker-registry and skopeo.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from lifecycle.registry import ANONYMOUS, RegistryClient
from tests.fixtures.latency_relay import LatencyRelay
from tests.fixtures.images import push_image
from tests.fixtures.registry import start_registry

LIFECYCLE = str(Path(sys.executable).parent / "lifecycle")


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(tags: int, skopeo_sample: int, concurrency: int, stats: dict[str, int], latency: float = 0.0
        ) -> dict[str, float]:
    server = start_registry(None, None)
    repo = "bench/retag"
    try:
        with RegistryClient(server.host, credentials=ANONYMOUS) as client:
            digest = push_image(client, repo, "src", labels={"bench": "1"})
            manifest = client.manifest(repo, "src")

        def library(host: str = server.host, prefix: str = "lib", in_flight: int = concurrency) -> None:
            with RegistryClient(host, credentials=ANONYMOUS, concurrency=in_flight) as c:
                results = c.retag_many(repo, [("src", f"{prefix}-{i}") for i in range(tags)])
                assert all(r.status == "moved" for r in results), "library retag failed"
                if prefix == "lib":
                    stats.update(c.stats)

        def cli() -> None:
            subprocess.run([LIFECYCLE, "registry", "retag", "--concurrency", str(concurrency), "-o", "json",
                            server.ref(repo, "src"), *[f"cli-{i}" for i in range(tags)]],
                           check=True, capture_output=True)

        def skopeo() -> None:
            for i in range(skopeo_sample):
                subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                                f"docker://{server.ref(repo, 'src')}", f"docker://{server.ref(repo, f'sk-{i}')}"],
                               check=True, capture_output=True)

        def floor() -> None:
            with httpx.Client(base_url=server.url) as http:
                for i in range(tags):
                    r = http.put(f"/v2/{repo}/manifests/raw-{i}", content=manifest.raw,
                                 headers={"Content-Type": manifest.media_type})
                    assert r.status_code == 201

        def floor_concurrent() -> None:
            limits = httpx.Limits(max_connections=concurrency)
            with httpx.Client(base_url=server.url, limits=limits) as http, \
                    ThreadPoolExecutor(max_workers=concurrency) as pool:
                def put(i: int) -> None:
                    r = http.put(f"/v2/{repo}/manifests/rawc-{i}", content=manifest.raw,
                                 headers={"Content-Type": manifest.media_type})
                    assert r.status_code == 201
                list(pool.map(put, range(tags)))

        seconds = {"floor": timed(floor), "floor_concurrent": timed(floor_concurrent), "library": timed(library), "cli": timed(cli)}
        seconds["skopeo"] = timed(skopeo) / skopeo_sample * tags
        far = ()
        if latency:
            far = ("far1", "farn")
            with LatencyRelay(server.host, latency) as relay:
                seconds["far1"] = timed(lambda: library(relay.host, "far1", 1))
                seconds["farn"] = timed(lambda: library(relay.host, "farn", concurrency))
        with RegistryClient(server.host, credentials=ANONYMOUS) as c:
            names = [f"{p}-{i}" for p in ("lib", "cli", "raw", "rawc", *far) for i in range(tags)]
            names += [f"sk-{i}" for i in range(skopeo_sample)]
            resolved = c.resolve_many(repo, names)
            wrong = [n for n, d in resolved.items() if d != digest]
            assert not wrong, f"tags not at the source digest: {wrong[:5]}"
        return seconds
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=500)
    parser.add_argument("--skopeo-sample", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the at-a-distance run's latency (0: skip)")
    args = parser.parse_args(argv)
    stats: dict[str, int] = {}
    s = run(args.tags, min(args.skopeo_sample, args.tags), args.concurrency, stats, args.latency_ms / 1000)
    n = args.tags
    print(f"retag {n} tags (skopeo: {min(args.skopeo_sample, n)} run, extrapolated to {n})")
    print(f"{'way':<34}{'seconds':>9}{'ms/tag':>9}{'x floor':>9}")
    for name, label in (("floor", "raw PUT loop (floor)"), ("floor_concurrent", f"raw PUTs, {args.concurrency} threads"),("library", "lifecycle retag_many (library)"),
                        ("cli", "lifecycle registry retag (CLI)"), ("skopeo", "skopeo copy loop")):
        print(f"{label:<34}{s[name]:>9.2f}{s[name] / n * 1000:>9.2f}{s[name] / s['floor']:>9.2f}")
    print(f"library vs floor: {s['library'] / s['floor']:.2f}x (goal <= 1.5x), "
          f"vs concurrent floor: {s['library'] / s['floor_concurrent']:.2f}x; "
          f"skopeo vs library: {s['skopeo'] / s['library']:.1f}x (goal >= 10x); "
          f"skopeo vs CLI: {s['skopeo'] / s['cli']:.1f}x")
    print(f"library requests by method: {stats}")
    if "farn" in s:
        print(f"at a distance ({args.latency_ms:.0f} ms per request): retag_many {s['far1']:.1f}s with 1 in flight, "
              f"{s['farn']:.1f}s with {args.concurrency} -> {s['far1'] / s['farn']:.1f}x")


if __name__ == "__main__":
    main()
