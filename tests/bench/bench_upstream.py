"""Benchmark: adopt an upstream-shaped repository of 250 images: import-manifest, then validate, then plan --all.

    .venv/bin/python -m tests.bench.bench_upstream [--groups 25] [--runs 3]

The generated repository has the upstream prereqs shapes: an ImageBuilder manifest.json with includes and
variables, a helix folder built for amd64/arm64v8/arm32v7 under a multi-platform shared tag, a Dockerfile
built with four build-arg variants, nested image folders, Windows images, FROMs naming the public mirror
while the catalogue pushes elsewhere, bases outside the approved list (waivers). Each step runs as a
subprocess, as a user would; wall time, best of N. Goal: the three together under 2 s on 2 cores.
Exit 1 if over the goal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_foundation import best_of  # noqa: E402
from tests.fixtures.gitrepo import commit_all, make_repo  # noqa: E402

GOAL_SECONDS = 2.0
MIRROR = "mcr.microsoft.com/dotnet-buildtools/prereqs"
IMM = "-$(System:TimeStamp)-$(System:DockerfileGitCommitSha)"
APPROVED = ["mcr.microsoft.com/azurelinux/base/core:3.0"]
PER_GROUP = 10


def _platform(dockerfile: str, tags: list[str], os_: str = "linux", arch: str = "amd64",
              variant: str | None = None, args: dict | None = None, os_version: str | None = None) -> dict:
    p = {"dockerfile": dockerfile, "os": os_, "architecture": arch, "tags": {t: {} for t in tags}}
    if variant:
        p["variant"] = variant
    if args:
        p["buildArgs"] = args
    if os_version:
        p["osVersion"] = os_version
    return p


def generate(groups: int) -> dict[str, str]:
    """`groups` x 10 images: base, helix x3 platforms (shared tag), net build x4 variants, nested
    webassembly, a Windows image."""
    files: dict[str, str] = {"README.md": "# bench upstream\n"}
    includes = []
    for g in range(groups):
        d = f"src/d{g}/1.0"
        images = [
            {"platforms": [_platform(f"{d}/amd64", [f"d{g}-1.0-amd64{IMM}", f"d{g}-1.0-amd64$(Suffix)"])]},
            {"sharedTags": {f"d{g}-1.0-helix": {}},
             "platforms": [_platform(f"{d}/helix/", [f"d{g}-1.0-helix-{s}{IMM}", f"d{g}-1.0-helix-{s}"], arch=a,
                                     variant=v) for a, v, s in (("amd64", None, "amd64"), ("arm64", "v8", "arm64v8"),
                                                                ("arm", "v7", "arm32v7"))]},
            *({"platforms": [_platform(f"{d}/net/build/amd64", [f"d{g}-1.0-net{n}-build-amd64"],
                                       args={"NET": n, "CMAKE": "$(CMake)"})]} for n in ("8.0", "9.0", "10.0", "11.0")),
            {"platforms": [_platform(f"{d}/helix/webassembly/amd64", [f"d{g}-1.0-helix-webassembly-amd64"])]},
            {"platforms": [_platform(f"src/nanoserver/g{g}/amd64", [f"nanoserver-g{g}-amd64"], os_="windows",
                                     os_version="nanoserver-ltsc2022")]},
        ]
        assert sum(len(i["platforms"]) for i in images) == PER_GROUP
        name = f"src/d{g}/manifest.json"
        includes.append(name)
        files[name] = json.dumps({"repos": [{"name": "dotnet-buildtools/prereqs", "images": images}]}, indent=2)
        files[f"{d}/amd64/Dockerfile"] = f"FROM {APPROVED[0]}\nRUN echo d{g}\n"
        files[f"{d}/amd64/setup.sh"] = "#!/bin/sh\necho setup\n"
        files[f"{d}/helix/Dockerfile"] = f"FROM {MIRROR}:d{g}-1.0-amd64\nRUN useradd helixbot\n"
        files[f"{d}/helix/README.md"] = "helix\n"
        files[f"{d}/net/build/amd64/Dockerfile"] = (f"FROM {MIRROR}:d{g}-1.0-amd64\nARG NET\nARG CMAKE\n"
                                                    "COPY install.sh /tmp/\nRUN /tmp/install.sh $NET $CMAKE\n")
        files[f"{d}/net/build/amd64/install.sh"] = "#!/bin/sh\necho $1 $2\n"
        files[f"{d}/helix/webassembly/amd64/Dockerfile"] = (f"FROM {MIRROR}:d{g}-1.0-helix\n"
                                                            f"FROM docker.io/library/node:{g} AS node\n")
        files[f"src/nanoserver/g{g}/amd64/Dockerfile"] = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n"
    files["manifest.json"] = json.dumps({
        "registry": "$(Registry)", "variables": {"Registry": "mcr.microsoft.com", "Suffix": "", "CMake": "3.30.3"},
        "includes": includes, "repos": [{"name": "dotnet-buildtools/prereqs", "images": []}]}, indent=2)
    return files


def adopt(upstream: Path, dest: Path, approved: list[str], count: int, runs: int
          ) -> tuple[dict[str, tuple[float, float]], list[dict]]:
    """import-manifest of `upstream` into `dest`, then validate and plan --all there, each the best of `runs`:
    their (wall, cpu) seconds, and the images plan lists (checked: `count` of them, nothing unmapped)."""
    results = {}
    policy = [a for b in approved for a in ("--policy-base", b)]
    results["import-manifest"], done = best_of(
        ["import-manifest", str(upstream / "manifest.json"), "--dest", str(dest), "--registry",
         "registry.bench:5000", *policy, "-o", "json"], runs)
    report = json.loads(done.stdout)
    assert len(report["images"]) == count, len(report["images"])
    assert not [f for f in report["findings"] if f["kind"] in ("unmapped", "orphan")], report["findings"]
    commit_all(dest, "import")
    results["validate"], _ = best_of(["validate", "--repo", str(dest), "--no-pipelines", "-o", "json"], runs)
    results["plan --all"], done = best_of(["plan", "--repo", str(dest), "--all", "-o", "json"], runs)
    planned = json.loads(done.stdout)["images"]
    assert len(planned) == count, len(planned)
    return results, planned


def print_results(results: dict[str, tuple[float, float]], runs: int) -> tuple[float, float]:
    """One line per step; returns the total (wall, cpu) seconds."""
    print(f"load average {os.getloadavg()[0]:.1f} (wall time is inflated when the machine is busy)")
    for name, (seconds, cpu) in results.items():
        print(f"{name:<18} wall {seconds:6.2f} s  cpu {cpu:6.2f} s  best of {runs}")
    return sum(wall for wall, _ in results.values()), sum(cpu for _, cpu in results.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    count = opts.groups * PER_GROUP
    with tempfile.TemporaryDirectory(prefix="lifecycle-bench-") as tmp:
        files = generate(opts.groups)
        upstream = make_repo(Path(tmp), files, name="upstream")
        dest = make_repo(Path(tmp), {"README.md": "# adopted\n"}, name="dest")
        print(f"upstream: {count} images, {len(files)} files, {os.cpu_count()} cpus")
        results, planned = adopt(upstream, dest, APPROVED, count, opts.runs)
        assert sum(1 for e in planned if e["parents"]) == opts.groups * 8
        total, total_cpu = print_results(results, opts.runs)
        load = os.getloadavg()[0]
        # On a machine busier than its cores, wall time measures the queue, not this code: the CPU seconds
        # the three processes used are then the figure that compares with the goal (both are printed).
        busy = load > (os.cpu_count() or 1)
        ok = total < GOAL_SECONDS or (busy and total_cpu < GOAL_SECONDS)
        verdict = "ok" if total < GOAL_SECONDS else \
            f"ok by CPU time (machine busy: wall {total:.2f} s)" if ok else f"OVER the {GOAL_SECONDS:.0f} s goal"
        print(f"{'all three':<18} wall {total:6.2f} s  cpu {total_cpu:6.2f} s  {verdict}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
