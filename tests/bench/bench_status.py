"""Benchmark: `lifecycle status` over a 250-image catalogue with 5,000 tags on a local registry.

    .venv/bin/python tests/bench/bench_status.py [--chains 50] [--depth 5] [--tags-per-image 20] [--digests 4]

Starts its own `docker-registry` and builds a GitOps repository (bare origin with main and production) of
`chains x depth` images (a root on one of two bases pushed to the registry, children on their parent).
Each image gets `--digests` synthetic builds carrying the labels publish writes (definition, bases, created;
the newest with the current definition) and `--tags-per-image` tags: -staging, -latest and the bare tag base
on the newest build, the rest immutable tags spread over the builds across two years.

Times `collect_status` (what `lifecycle status` does: holds, LKG, stale on both channels, the cleanup plan,
consumers) and renders the HTML page; counts its registry requests; then the same with `--no-cleanup`. The same run times the separate
library calls a person would otherwise run (stale --channel staging, stale --channel latest, lkg, cleanup),
each with its own client, as the baseline: the ratio is what sharing one snapshot saves.

Then tests/bench/status_page.py: 250 images of mixed states (held, stale, pending, current, ...) rendered and
opened in headless chromium: render time, page size, load, filter, state filter and sorts in the browser.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lifecycle.cleanup.rules import Usage, decide  # noqa: E402
from lifecycle.cleanup.registry import read_inventory  # noqa: E402
from lifecycle.production.gitops import GitOps  # noqa: E402
from lifecycle.build.labels import CREATED, REVISION, bases_label  # noqa: E402
from lifecycle.production.lkg import lkgs_for, resolver_for  # noqa: E402
from lifecycle.registry.pool import RegistryPool  # noqa: E402
from lifecycle.registry import ANONYMOUS, RegistryClient  # noqa: E402
from lifecycle.catalogue.source import WorkTree  # noqa: E402
from lifecycle.cleanup.stale import find_stale  # noqa: E402
from lifecycle.status.collect import collect_status  # noqa: E402
from lifecycle.status.render_html import render_page  # noqa: E402
from lifecycle.catalogue.workspace import Workspace  # noqa: E402
from tests.fixtures.gitrepo import make_repo  # noqa: E402
from tests.fixtures.images import make_layer, push_image  # noqa: E402
from tests.fixtures.registry import start_registry  # noqa: E402
from tests.bench import status_page  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, tzinfo=UTC)
REPOSITORY = "bench/prereqs"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


def generate(host: str, chains: int, depth: int) -> tuple[dict[str, str], dict[str, str]]:
    """Repository files, and tag base -> the base reference its Dockerfile names."""
    bases = [f"{host}/bench-base/core:3.0", f"{host}/bench-base/ubuntu:22.04"]
    files = {"manifests/policy.yml": f"approvedBases:\n  - \"{host}/bench-base/*\"\nlabelPrefix: bench\n"
                                     "maxAgeDays: 60\nretention:\n  days: 180\n  keepLast: 3\n"}
    entries, base_of = [], {}
    for c in range(chains):
        parent = None
        for d in range(depth):
            folder = f"src/distro{c % 10}/chain{c}/" + "".join(f"l{i}/" for i in range(1, d + 1)) + "amd64"
            tagbase = folder.removeprefix("src/").replace("/", "-")
            base = f"{host}/{REPOSITORY}:{parent}" if parent else bases[c % 2]
            files[f"{folder}/Dockerfile"] = f"FROM {base}\nRUN echo {tagbase}\n"
            entries.append(f"  - tagBase: {tagbase}\n    dockerfile: {folder}\n"
                           f"    platform: {{os: linux, architecture: amd64}}\n    owners: [bench]\n")
            base_of[tagbase] = base
            parent = tagbase
    files["manifests/images.yml"] = f"registry: {host}\nrepository: {REPOSITORY}\nimages:\n" + "".join(entries)
    return files, base_of


def populate(client: RegistryClient, ws: Workspace, base_of: dict[str, str], tags_per_image: int,
             n_digests: int) -> int:
    """Push the bases and every image's builds and tags; returns the number of tags."""
    layer = make_layer({"etc/os-release": b"bench\n"})
    base_digest = {}
    for ref in sorted({b for b in base_of.values() if "/bench-base/" in b}):
        name, tag = ref.split("/", 1)[1].rsplit(":", 1)
        base_digest[ref] = push_image(client, name, tag, labels={"base": ref}, layers=[layer], media="docker")
    label = bases_label(ws.policy)
    newest: dict[str, str] = {}
    plan: list[tuple[str, str]] = []  # (tag, digest)
    span = dt.timedelta(days=730)
    for level in range(10):  # parents before children: a child records its parent's newest digest
        batch = [t for t in ws.order() if len(ws.graph.ancestors(t)) == level]  # type: ignore[union-attr]
        if not batch:
            break

        def builds(tagbase: str) -> list[tuple[str, dt.datetime]]:
            base = base_of[tagbase]
            recorded = base_digest.get(base) or newest[base.rsplit(":", 1)[1]]
            out = []
            for i in range(n_digests):
                built = NOW - span + span * (i + 1) / n_digests - dt.timedelta(days=1)
                definition = ws.definitions[tagbase] if i == n_digests - 1 else f"sha256:{i:064x}"
                labels = {ws.policy.definition_label: definition, label: json.dumps({base: recorded}),
                          CREATED: built.strftime("%Y-%m-%dT%H:%M:%SZ"), REVISION: f"{tagbase} build {i}"}
                out.append((push_image(client, REPOSITORY, None, labels=labels, created=built, layers=[layer],
                                       media="docker"), built))
            return out

        for tagbase, done in zip(batch, client.map(builds, batch)):
            newest[tagbase] = done[-1][0]
            plan += [(f"{tagbase}{suffix}", done[-1][0]) for suffix in ("-staging", "-latest", "")]
            for i in range(tags_per_image - 3):
                digest, built = done[i % n_digests]
                when = built - dt.timedelta(hours=i // n_digests)
                plan.append((f"{tagbase}-{when:%Y%m%d%H%M%S}-{i:07x}", digest))
    raw = {d: client.manifest(REPOSITORY, d) for d in {d for _, d in plan}}
    client.map(lambda item: client.put_manifest(REPOSITORY, item[0], raw[item[1]].raw, raw[item[1]].media_type),
               plan)
    return len(plan)


def separate_commands(host: str, repo: Path) -> tuple[float, int]:
    """The baseline: each verb on its own, as four commands would run (each reads what it needs)."""
    started, total = time.perf_counter(), 0
    ws = Workspace.load(WorkTree(repo))
    for channel in ("staging", "latest"):
        with RegistryPool() as pool:
            find_stale(ws, channel, pool, NOW)
            total += sum(pool.get(host).stats.values())
    with RegistryClient(host, credentials=ANONYMOUS) as client:
        lkgs_for(ws, resolver_for(ws, client))
        total += sum(client.stats.values())
    with RegistryClient(host, credentials=ANONYMOUS) as client:
        decide(read_inventory(client, REPOSITORY, ws.catalog), ws.catalog, ws.policy, Usage(), NOW)
        total += sum(client.stats.values())
    return time.perf_counter() - started, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=50)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--tags-per-image", type=int, default=20)
    parser.add_argument("--digests", type=int, default=4)
    args = parser.parse_args()

    server = start_registry(None, ports=None)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
            files, base_of = generate(server.host, args.chains, args.depth)
            repo = make_repo(Path(tmp), files)
            git(Path(tmp), "clone", "-q", "--bare", str(repo), str(Path(tmp) / "origin.git"))
            git(repo, "remote", "add", "origin", str(Path(tmp) / "origin.git"))
            git(repo, "push", "-q", "origin", "main:production")
            git(repo, "fetch", "-q", "origin")
            ws = Workspace.load(WorkTree(repo))
            t0 = time.perf_counter()
            with RegistryClient(server.host, credentials=ANONYMOUS, concurrency=16) as client:
                n_tags = populate(client, ws, base_of, args.tags_per_image, args.digests)
            n_images = len(ws.catalog.images)
            print(f"setup: {n_images} images, {n_tags} tags, {n_images * args.digests} digests in "
                  f"{time.perf_counter() - t0:.1f}s")

            with RegistryPool() as pool:
                started = time.perf_counter()
                fleet = collect_status(GitOps(repo), pool, now=NOW)
                collected = time.perf_counter() - started
                page = render_page(fleet)
                rendered = time.perf_counter() - started - collected
            with RegistryPool() as pool:
                started = time.perf_counter()
                light = collect_status(GitOps(repo), pool, now=NOW, cleanup=False)
                light_elapsed = time.perf_counter() - started
            total = sum(fleet.requests.values())
            base_elapsed, base_total = separate_commands(server.host, repo)
            counts = {k: v for k, v in fleet.counts().items() if v}
            print("\n== lifecycle status (collect_status + render_page)")
            print(f"images / tags        {n_images} / {n_tags}; states {counts}")
            print(f"wall time            {collected:.2f}s collect + {rendered:.2f}s HTML "
                  f"({len(page) / 1e6:.1f} MB page)")
            print(f"requests             {total} {dict(sorted(fleet.requests.items()))}")
            print(f"requests per image   {total / n_images:.1f} (per tag {total / n_tags:.2f}: one HEAD per tag, "
                  f"each manifest and config once per distinct digest)")
            light_total = sum(light.requests.values())
            print(f"\n== lifecycle status --no-cleanup (no cleanup plan: no HEAD per tag)")
            print(f"wall time            {light_elapsed:.2f}s")
            print(f"requests             {light_total} {dict(sorted(light.requests.items()))}; "
                  f"{light_total / n_images:.1f} per image")
            print(f"\n== baseline: stale staging + stale latest + lkg + cleanup plan, separately")
            print(f"wall time            {base_elapsed:.2f}s")
            print(f"requests             {base_total} ({base_total / n_images:.1f} per image)")
            print(f"\nstatus vs separate   {collected / base_elapsed:.2f}x the wall time, "
                  f"{total / base_total:.2f}x the requests")
    finally:
        server.stop()
    status_page.run(250)  # the page in a browser: a mix of states the generated fleet above does not have


if __name__ == "__main__":
    main()
