"""Benchmark: what a catalogue of several registry repositories costs the routine jobs, against the same
catalogue in one repository.

    .venv/bin/python -m tests.bench.bench_multi_repo [--images 20] [--repositories 7]
    bash eng/bench.sh multi_repo

The catalogue: `--repositories` repositories (runtime-deps, runtime, aspnet, ...) of `--images` images each,
every image built on the image of the same tag base in the repository before it (parents across
repositories, tags unique per repository only), the first on an external base. The same images are laid out
twice: spread over the repositories, and in one repository (tag bases prefixed by the repository). Each
layout is published once through the registry API (tiny images carrying exactly publish's labels, as
bench_fleet does), then timed and its registry requests counted: publish with no change, rollout with no
change, reconcile after a revert of one root image on production (its descendants in every repository
follow it back).

Goals: the spread layout costs what one repository costs, plus one tag listing per extra repository in the
rollout and the reconcile (the per-image requests are those of bench_fleet's layout on the distribution API);
publish builds nothing; the reconcile moves exactly the reverted image's chain back, in every repository.
Exit 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from lifecycle.build.publish import publish  # noqa: E402
from lifecycle.catalogue.repositories import tag_in  # noqa: E402
from lifecycle.catalogue.source import WorkTree  # noqa: E402
from lifecycle.catalogue.workspace import Workspace  # noqa: E402
from lifecycle.production.gitops import GitOps  # noqa: E402
from lifecycle.production.reconcile import reconcile  # noqa: E402
from lifecycle.production.rollout import rollout  # noqa: E402
from lifecycle.registry import RegistryClient  # noqa: E402
from lifecycle.registry.pool import RegistryPool  # noqa: E402
from tests.bench.bench_fleet import quiet, requests, seed  # noqa: E402
from tests.fixtures.gitrepo import clone, commit_all, git, make_repo, write_files  # noqa: E402
from tests.fixtures.images import push_image  # noqa: E402
from tests.fixtures.registry import start_registry  # noqa: E402

NAMES = ("runtime-deps", "runtime", "aspnet", "sdk", "monitor", "runtime-extras", "sdk-tools", "helix", "cross")
BASE = "bench/base/distro:1"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def generate(host: str, prefix: str, images: int, repositories: int, spread: bool) -> dict[str, str]:
    """The catalogue's files; `spread`: one registry repository per product repository, else all in one."""
    default = f"{prefix}/{NAMES[0]}" if spread else f"{prefix}/all"
    entries, files = [], {"README.md": "# multi-repository benchmark\n"}
    for r, name in enumerate(NAMES[:repositories]):
        repository = f"{prefix}/{name}" if spread else default
        for i in range(images):
            tag = f"9.0-distro{i}-amd64" if spread else f"{name}-9.0-distro{i}-amd64"
            folder = f"src/{name}/distro{i}"
            parent_tag = f"9.0-distro{i}-amd64" if spread else f"{NAMES[r - 1]}-9.0-distro{i}-amd64"
            parent_repo = f"{prefix}/{NAMES[r - 1]}" if spread else default
            base = f"{host}/{BASE}" if r == 0 else f"{host}/{parent_repo}:{parent_tag}"
            files[f"{folder}/Dockerfile"] = f"FROM {base}\nRUN echo {name} {i}\n"
            entry = {"tagBase": tag, "dockerfile": folder, "platform": {"os": "linux", "architecture": "amd64"}}
            if repository != default:
                entry["repository"] = repository
            entries.append(entry)
    files["manifests/images.yml"] = json.dumps({"registry": host, "repository": default, "images": entries},
                                               indent=1) + "\n"
    files["manifests/policy.yml"] = (f"approvedBases: [\"{host}/bench/base/*\"]\nlabelPrefix: io.bench\n"
                                     "bareTagFollowsLatest: true\n")
    return files


def run_layout(server, tmp: Path, prefix: str, images: int, repositories: int, spread: bool) -> dict:
    host = server.host
    files = generate(host, prefix, images, repositories, spread)
    work = tmp / ("spread" if spread else "one")
    work.mkdir()
    dev = make_repo(work, files, "catalogue", name="dev")
    bare = work / "origin.git"
    git(work, "init", "-q", "--bare", "-b", "main", str(bare))
    git(dev, "remote", "add", "origin", str(bare))
    git(dev, "push", "-q", "origin", "main", "main:production")
    agent = clone(bare, work / "agent")
    for repo in (dev, agent):
        git(repo, "config", "user.name", "bench")
        git(repo, "config", "user.email", "bench@lifecycle.invalid")
    ws = Workspace.load(WorkTree(dev))
    count = len(ws.catalog.images)
    out: dict = {"images": count, "repositories": len(ws.catalog.repositories)}
    with server.client(concurrency=16) as client:
        seed(client, dev)

    with server.client() as client, RegistryPool() as pool:
        pool.add(client)
        t0 = time.perf_counter()
        report = publish(dev, None, channel="staging", client=client, engine=None, reporter=quiet(), pool=pool)
        out["publish_s"] = time.perf_counter() - t0
        out["publish_requests"] = sum(requests(*pool.clients.values()).values())
        out["publish_ok"] = {r.status for r in report.results} == {"skipped"}

    ops = GitOps(agent)
    with server.client() as client:
        t0 = time.perf_counter()
        result = rollout(ops, client, quiet())
        out["rollout_s"] = time.perf_counter() - t0
        stats = client.stats
        out["rollout_requests"] = sum(stats.values())
        out["rollout_puts"] = stats.get("PUT", 0)
        out["rollout_ok"] = result.ok
    with server.client() as client:   # the rollout lists each repository once, 1,000 tags a page
        out["listing_pages"] = sum(max(1, -(-len(client.tags(r, page_size=1000)) // 1000))
                                   for r in ws.catalog.repositories)

    # a new version of the first repository's first image reaches its chain in every repository; rolled out,
    # then reverted on production: reconcile must put each repository's -latest back
    root_name = ws.order()[0]
    chain = ws.with_descendants([root_name])
    write_files(dev, {ws.image(root_name).dockerfile: f"FROM {host}/{BASE}\nRUN echo v2\n"})
    commit_all(dev, "root v2")
    git(dev, "push", "-q", "origin", "main")
    with server.client(concurrency=16) as client:
        old = {n: client.resolve(*tag_in(ws.catalog, n, "latest")) for n in chain}
        seed(client, dev, chain, created=NOW + dt.timedelta(minutes=5), tag_everything=False)
        moved = rollout(ops, client, quiet())
    git(dev, "fetch", "-q", "origin")
    git(dev, "checkout", "-q", "-B", "production", "origin/production")
    git(dev, "revert", "--no-edit", "-m", "1", moved.plan.merge or "")
    git(dev, "push", "-q", "origin", "production")
    git(dev, "checkout", "-q", "main")
    with server.client() as client:
        t0 = time.perf_counter()
        rec = reconcile(ops, client, quiet())
        out["reconcile_s"] = time.perf_counter() - t0
        out["reconcile_requests"] = sum(client.stats.values())
        back = {n: client.resolve(*tag_in(ws.catalog, n, "latest")) for n in chain}
    moved_back = {e.image for e in rec.entries if e.status == "moved" and e.tag.endswith("-latest")}
    out["chain"] = len(chain)
    out["reconcile_ok"] = rec.ok and back == old and moved_back == set(chain)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20, help="images per repository")
    parser.add_argument("--repositories", type=int, default=7)
    args = parser.parse_args()
    server = start_registry(None, ports=None)
    started = time.perf_counter()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-multi-repo-") as tmp:
            with server.client() as client:
                push_image(client, BASE.partition(":")[0], BASE.partition(":")[2], labels={"base": "1"})
            results = {spread: run_layout(server, Path(tmp), f"bench{int(spread)}", args.images,
                                          args.repositories, spread) for spread in (False, True)}
    finally:
        server.stop()
    one, spread = results[False], results[True]
    extra_listings = spread["listing_pages"] - one["listing_pages"]
    print("| layout | images | publish, no change | rollout, no change | reconcile after a revert |")
    print("|---|---|---|---|---|")
    for r in results.values():
        n = r["images"]
        print(f"| {r['repositories']} repositor{'ies' if r['repositories'] > 1 else 'y'} | {n} | "
              f"{r['publish_s']:.2f} s, {r['publish_requests']} requests ({(r['publish_requests'] - 1) / n:.2f}/image "
              f"+ 1 external base), all skipped: {r['publish_ok']} | "
              f"{r['rollout_s']:.2f} s, {r['rollout_requests']} requests ({r['listing_pages']} listing pages), "
              f"{r['rollout_puts']} PUTs | {r['reconcile_s']:.2f} s, {r['reconcile_requests']} requests, "
              f"chain of {r['chain']} back in every repository: {r['reconcile_ok']} |")
    checks = [
        ("publish: no build, the same requests per image", spread["publish_ok"] and one["publish_ok"]
         and spread["publish_requests"] == one["publish_requests"]),
        (f"rollout: 0 PUTs, at most {extra_listings} more requests (one listing per extra repository)",
         spread["rollout_puts"] == one["rollout_puts"] == 0 and spread["rollout_ok"]
         and spread["rollout_requests"] - one["rollout_requests"] <= extra_listings),
        (f"reconcile: the chain back, at most {extra_listings} more requests",
         spread["reconcile_ok"] and one["reconcile_ok"]
         and spread["reconcile_requests"] - one["reconcile_requests"] <= extra_listings),
    ]
    print(f"\nspread minus one repository: publish {spread['publish_requests'] - one['publish_requests']:+d}, "
          f"rollout {spread['rollout_requests'] - one['rollout_requests']:+d}, "
          f"reconcile {spread['reconcile_requests'] - one['reconcile_requests']:+d} requests; "
          f"total {time.perf_counter() - started:.0f}s\n")
    for what, met in checks:
        print(f"- {what}: {'yes' if met else 'NO'}")
    ok = all(met for _, met in checks)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
