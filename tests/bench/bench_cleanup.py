"""Benchmark: plan a cleanup over 5,000 tags in one repository on a local registry.

    .venv/bin/python tests/bench/bench_cleanup.py [--tags 5000] [--digests 300] [--sample 100]

Starts its own `docker-registry`, writes `--digests` distinct images through the API (one shared layer,
distinct configs) and spreads `--tags` tags over them (immutable tags whose build times span two
years, plus -staging/-latest/bare tags per tag base and a retired tag base), then times
`read_inventory` + `decide` (what `lifecycle cleanup` does before deleting) and counts its requests.
In the same run: the sequential path (a client with concurrency 1: one request at a time, as before
issue 15; goal: concurrent >= 3x faster, <= 1.5 s, both reported, not failed: timings on shared cores are
not stable) and the plan through the ACR stand-in
(tests/fixtures/acr.py: the tag listing carries digests, so no HEAD per tag; goal <= 0.02 listing
requests per tag, and the same plan). Exit 1 when a request-count goal is missed or the plans differ.

The naive baseline runs `skopeo inspect --tls-verify=false` once per tag, as a shell loop would. It is
measured on a random sample of `--sample` tags and extrapolated linearly to all tags (the per-tag cost
does not depend on the other tags except for the tag list skopeo fetches each time, which is the same
for every call); its requests per call are counted through a counting proxy on a few tags.

At a distance (`--latency-ms`, default 20): the same plan, sequential and with 8 in flight, through a
local TCP relay (tests/fixtures/latency_relay.py) that holds every request that long before passing it on,
as a registry in another region would, and parses nothing (a Python HTTP proxy's own CPU per request on the
same 2 cores would be measured instead of the waiting). There a request is mostly waiting, which the pool overlaps (goal: concurrent >= 6x sequential; a
miss fails the benchmark, since waiting, unlike CPU, does not depend on the machine's load).
"""

from __future__ import annotations

import argparse
import os
import datetime as dt
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lifecycle.catalogue.catalog import Catalog, ImageSpec, Platform  # noqa: E402

from lifecycle.catalogue.policy import Policy  # noqa: E402
from lifecycle.cleanup.rules import Usage, decide  # noqa: E402
from lifecycle.cleanup.registry import read_inventory  # noqa: E402
from lifecycle.registry import ANONYMOUS, RegistryClient  # noqa: E402
from tests.fixtures.acr import AcrStandIn  # noqa: E402
from tests.fixtures.faultproxy import FaultProxy  # noqa: E402
from tests.fixtures.latency_relay import LatencyRelay  # noqa: E402
from tests.fixtures.images import make_layer, push_image  # noqa: E402
from tests.fixtures.registry import start_registry  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, tzinfo=UTC)
REPO = "bench/prereqs"
TAGBASES = ["azurelinux-3.0-amd64", "azurelinux-3.0-net9.0-build-amd64", "ubuntu-22.04-helix-amd64",
            "ubuntu-24.04-amd64", "debian-12-crossdeps-arm64"]
RETIRED = "centos-7-amd64"


def populate(client: RegistryClient, n_tags: int, n_digests: int) -> dict[str, str]:
    """Push the images and tags; returns tag -> digest."""
    layer = make_layer({"etc/os-release": b"bench\n"})
    span = dt.timedelta(days=730)
    families = TAGBASES + [RETIRED]

    def one(i: int) -> tuple[str, str, dt.datetime, bytes, str]:
        tagbase = families[i % len(families)]
        built = NOW - span + span * i / n_digests
        if tagbase == RETIRED:
            built = min(built, NOW - dt.timedelta(days=200))
        digest = push_image(client, REPO, None, labels={"i": str(i)}, created=built, layers=[layer], media="docker")
        manifest = client.manifest(REPO, digest)
        return tagbase, digest, built, manifest.raw, manifest.media_type

    images = client.map(one, range(n_digests))
    plan: dict[str, tuple[bytes, str, str]] = {}
    for tagbase in families:
        mine = [img for img in images if img[0] == tagbase]
        newest = mine[-1]
        for tag in (f"{tagbase}-staging", f"{tagbase}-latest", tagbase):
            plan[tag] = (newest[3], newest[4], newest[1])
    i = 0
    while len(plan) < n_tags:  # round-robin: every digest gets ~n_tags/n_digests immutable tags
        tagbase, digest, built, raw, media = images[i % n_digests]
        when = built + dt.timedelta(seconds=i // n_digests)
        plan[f"{tagbase}-{when:%Y%m%d%H%M%S}-{i:07x}"] = (raw, media, digest)
        i += 1
    client.map(lambda item: client.put_manifest(REPO, item[0], item[1][0], item[1][1]), list(plan.items()))
    return {tag: v[2] for tag, v in plan.items()}


def bench_plan(host: str, catalog: Catalog, policy: Policy, concurrency: int = 8,
               credentials=ANONYMOUS) -> tuple[float, dict[str, int], object]:
    with RegistryClient(host, credentials=credentials, concurrency=concurrency) as client:
        started = time.perf_counter()
        inventory = read_inventory(client, REPO, catalog)
        plan = decide(inventory, catalog, policy, Usage(), NOW)
        elapsed = time.perf_counter() - started
        return elapsed, client.stats, plan


def skopeo(host: str, tag: str) -> None:
    subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{host}/{REPO}:{tag}"],
                   check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tags", type=int, default=5000)
    parser.add_argument("--digests", type=int, default=300)
    parser.add_argument("--sample", type=int, default=100, help="skopeo calls for the naive baseline (0: skip)")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="per-request latency of the at-a-distance run (0: skip it)")
    args = parser.parse_args()

    server = start_registry(None, ports=None)
    try:
        with RegistryClient(server.host, credentials=ANONYMOUS, concurrency=16) as client:
            t0 = time.perf_counter()
            tags = populate(client, args.tags, args.digests)
            print(f"setup: {len(tags)} tags on {len(set(tags.values()))} digests in "
                  f"{time.perf_counter() - t0:.1f}s")
        catalog = Catalog(server.host, REPO, tuple(ImageSpec(t, "src/" + t.replace("-", "/"), Platform("linux", "amd64"))
                                                   for t in TAGBASES))
        policy = Policy(("*",), "bench", retention_days=180, keep_last=3, retired_grace_days=30)

        # the sequential path (one request at a time, as before issue 15) in the same run, for the ratio
        sequential, seq_stats, _ = bench_plan(server.host, catalog, policy, concurrency=1)
        elapsed, stats, plan = bench_plan(server.host, catalog, policy)
        stand_in = AcrStandIn(server).start()
        try:
            acr_elapsed, acr_stats, acr_plan = bench_plan(stand_in.host, catalog, policy,
                                                          credentials=stand_in.credentials())
            acr_pages = stand_in.counts["acr"]
        finally:
            stand_in.stop()
        total = sum(stats.values())
        n_tags, n_digests = len(tags), len(set(tags.values()))
        listing = stats.get("GET", 0) - n_digests  # GETs that are not manifest reads: the tag list pages
        totals = plan.totals()
        print("\n== lifecycle cleanup plan (read_inventory + decide)")
        print(f"wall time            {elapsed:.2f}s")
        print(f"requests             {total} {dict(sorted(stats.items()))}")
        print(f"  tag listing        {listing} GET (pages)")
        print(f"  tag -> digest      {stats.get('HEAD', 0)} HEAD (one per tag; the distribution API has no bulk "
              f"tag->digest listing)")
        print(f"  per distinct digest {(stats.get('GET', 0) - listing) / n_digests:.2f} "
              f"(manifest GETs / {n_digests} digests; goal <= 1.2)")
        print(f"requests per tag     {total / n_tags:.3f}")
        print(f"requests per digest  {total / n_digests:.2f} (all requests, per-tag HEADs included)")
        print(f"plan                 {totals['candidates']} candidates, {totals['digestsToDelete']} digests / "
              f"{totals['tagsToDelete']} tags to delete, {totals['bytesToFree']} bytes to free")
        ratio = sequential / elapsed
        print(f"\n== concurrent vs sequential tag resolution (same run)")
        print(f"sequential           {sequential:.2f}s, {sum(seq_stats.values())} requests")
        print(f"concurrent (8)       {elapsed:.2f}s, {total} requests  -> {ratio:.1f}x (goal >= 3x, <= 1.5 s)")
        acr_total = sum(acr_stats.values())
        same = [x.digest for x in acr_plan.deletions] == [x.digest for x in plan.deletions]
        print(f"\n== on the ACR stand-in (tag listing with digests, Bearer auth)")
        print(f"wall time            {acr_elapsed:.2f}s (the stand-in reads the registry's storage per page)")
        print(f"requests             {acr_total} {dict(sorted(acr_stats.items()))}: {acr_pages} listing pages, "
              f"{acr_stats.get('HEAD', 0)} HEAD")
        print(f"listing per tag      {acr_pages / n_tags:.4f} (goal <= 0.02); all requests per tag "
              f"{acr_total / n_tags:.3f} (one manifest read per distinct digest remains)")
        print(f"same plan            {same}")
        missed = []
        if ratio < 3:  # a timing ratio on shared cores: reported, not a failure (request counts are)
            print(f"note                 concurrent/sequential {ratio:.1f}x is under the 3x goal: client and "
                  f"registry share {os.cpu_count()} cores and both spend CPU on every HEAD")
        if acr_pages / n_tags > 0.02 or acr_stats.get("HEAD"):
            missed.append("ACR listing over 0.02 requests per tag")
        if not same:
            missed.append("the ACR plan differs from the distribution-API plan")
        if stats.get("HEAD", 0) != seq_stats.get("HEAD", 0):
            missed.append("concurrent resolution changed the request count")
        if elapsed > 1.5:
            print(f"note                 {elapsed:.2f}s is over the 1.5 s goal (timings are load-dependent; "
                  f"load {os.getloadavg()[0]:.1f})")

        if args.latency_ms:
            with LatencyRelay(server.host, args.latency_ms / 1000) as relay:
                far_seq, far_seq_stats, far_seq_plan = bench_plan(relay.host, catalog, policy, concurrency=1)
                far, far_stats, far_plan = bench_plan(relay.host, catalog, policy)
            far_ratio = far_seq / far
            far_same = [x.digest for x in far_plan.deletions] == [x.digest for x in plan.deletions] == \
                [x.digest for x in far_seq_plan.deletions]
            print(f"\n== at a distance: every request {args.latency_ms:.0f} ms away (latency relay), same run")
            print(f"sequential           {far_seq:.1f}s, {sum(far_seq_stats.values())} requests")
            print(f"concurrent (8)       {far:.1f}s, {sum(far_stats.values())} requests  -> {far_ratio:.1f}x "
                  f"(goal >= 6x)")
            print(f"same plan            {far_same}")
            if far_ratio < 6:
                missed.append(f"at {args.latency_ms:.0f} ms per request, concurrent is {far_ratio:.1f}x "
                              f"sequential (goal >= 6x)")
            if not far_same:
                missed.append("the plan through the latency relay differs")

        if args.sample:
            sample = random.Random(6).sample(sorted(tags), min(args.sample, n_tags))
            started = time.perf_counter()
            for tag in sample:
                skopeo(server.host, tag)
            per_call = (time.perf_counter() - started) / len(sample)
            with FaultProxy(server.host) as proxy:
                for tag in sample[:5]:
                    skopeo(proxy.host, tag)
                per_call_requests = proxy.count() / 5
            print(f"\n== naive baseline: skopeo inspect per tag (measured on {len(sample)} random tags, "
                  f"extrapolated to {n_tags})")
            print(f"per call             {per_call * 1000:.0f} ms, {per_call_requests:.1f} requests "
                  f"(counted through a proxy on 5 calls)")
            print(f"extrapolated         {per_call * n_tags:.0f}s wall, {per_call_requests * n_tags:.0f} requests "
                  f"({per_call_requests * n_tags / n_digests:.1f} per distinct digest)")
            print(f"\nspeed-up             {per_call * n_tags / elapsed:.0f}x wall time, "
                  f"{per_call_requests * n_tags / total:.1f}x fewer requests")
    finally:
        server.stop()
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
