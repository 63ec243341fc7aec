"""Benchmark: validate and plan on a catalogue of 1,000 images (200 chains of depth 5) in a real git repo.

    .venv/bin/python tests/bench/bench_foundation.py [--chains 200] [--depth 5] [--runs 3] [--profile]

Times `lifecycle validate`, `lifecycle plan --all` and `lifecycle plan --since HEAD~1` (after a change to
one root) as subprocesses, wall time, best of N. Goal: each under 3 s on 2 cores. Exit 1 if over the goal.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.gitrepo import commit_all, make_repo, write_files  # noqa: E402

LIFECYCLE = ROOT / ".venv" / "bin" / "lifecycle"
GOAL_SECONDS = 3.0
REGISTRY, REPOSITORY = "registry.bench:5000", "bench/prereqs"
BASES = ["mcr.microsoft.com/azurelinux/base/core:3.0", "mcr.microsoft.com/mirror/docker/library/ubuntu:22.04"]


def generate(chains: int, depth: int) -> dict[str, str]:
    files: dict[str, str] = {
        "README.md": "# bench\n",
        "manifests/policy.yml": "approvedBases:\n" + "".join(f"  - {b}\n" for b in BASES) + "labelPrefix: bench\n",
    }
    entries = []
    for c in range(chains):
        arch = "arm64" if c % 4 == 3 else "amd64"
        parent = None
        for d in range(depth):
            folder = f"src/distro{c % 10}/chain{c}/" + "/".join(f"l{i}" for i in range(1, d + 1)) + f"/{arch}"
            folder = folder.replace("//", "/")
            tagbase = folder.removeprefix("src/").replace("/", "-")
            base = f"{REGISTRY}/{REPOSITORY}:{parent}" if parent else BASES[c % 2]
            stage = f"FROM {BASES[0]} AS tools\nRUN echo tools\n\n" if d == depth - 1 else ""
            copy = "COPY --from=tools /etc/os-release /tools-release\n" if stage else ""
            files[f"{folder}/Dockerfile"] = (f"{stage}FROM {base}\nARG VERSION=1\nCOPY setup.sh /tmp/\n"
                                             f"RUN /tmp/setup.sh $VERSION\n{copy}")
            files[f"{folder}/setup.sh"] = f"#!/bin/sh\necho {tagbase} $1\n"
            files[f"{folder}/.dockerignore"] = "*.md\n"
            files[f"{folder}/NOTES.md"] = "not in the context\n"
            entries.append(f"  - tagBase: {tagbase}\n    dockerfile: {folder}\n"
                           f"    platform: {{os: linux, architecture: {arch}}}\n    buildArgs: {{VERSION: \"{d}\"}}\n"
                           f"    tests: [\"true\"]\n    owners: [bench]\n")
            parent = tagbase
    files["manifests/images.yml"] = (f"registry: {REGISTRY}\nrepository: {REPOSITORY}\nimages:\n" + "".join(entries))
    return files


def best_of(args: list[str], runs: int) -> tuple[tuple[float, float], subprocess.CompletedProcess]:
    """(best wall seconds, best CPU seconds of the child) over `runs`; CPU time is what a loaded machine
    does not inflate."""
    best, best_cpu, done = float("inf"), float("inf"), None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([str(LIFECYCLE), *args], capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best_cpu = min(best_cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"lifecycle {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return (best, best_cpu), done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=200)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile plan --all in-process, top 25 by cumtime")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lifecycle-bench-") as tmp:
        files = generate(opts.chains, opts.depth)
        repo = make_repo(Path(tmp), files)
        count = opts.chains * opts.depth
        print(f"catalogue: {count} images, {len(files)} files, {os.cpu_count()} cpus")
        results = {}
        results["validate"], _ = best_of(["validate", "--repo", str(repo), "--no-pipelines", "-o", "json"], opts.runs)
        results["plan --all"], done = best_of(["plan", "--repo", str(repo), "--all", "-o", "json"], opts.runs)
        assert len(json.loads(done.stdout)["images"]) == count
        root = next(p for p in files if p.endswith("/amd64/Dockerfile") and "/l1/" not in p)
        write_files(repo, {root: files[root] + "RUN echo changed\n"})
        commit_all(repo, "change one root")
        results["plan --since HEAD~1"], done = best_of(["plan", "--repo", str(repo), "--since", "HEAD~1", "-o", "json"],
                                                       opts.runs)
        planned = json.loads(done.stdout)["images"]
        assert len(planned) == opts.depth, f"expected the changed chain only, got {len(planned)}"
        print(f"load average {os.getloadavg()[0]:.1f} (wall time is inflated when the machine is busy)")
        for name, (seconds, cpu) in results.items():
            verdict = "ok" if seconds < GOAL_SECONDS else f"OVER the {GOAL_SECONDS:.0f} s goal"
            print(f"{name:<22} wall {seconds:6.2f} s  cpu {cpu:6.2f} s  best of {opts.runs}  {verdict}")
        if opts.profile:
            import cProfile
            import pstats

            from lifecycle.catalogue.planning import plan_all
            from lifecycle.catalogue.source import WorkTree
            from lifecycle.catalogue.validation import validate
            from lifecycle.catalogue.workspace import Workspace

            profile = cProfile.Profile()
            profile.enable()
            validate(WorkTree(repo))
            plan_all(Workspace.load(WorkTree(repo)))
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
        return 0 if all(wall < GOAL_SECONDS for wall, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
