"""Benchmark: adopt a product-shaped ImageBuilder repository of 7 registry repositories and 609 Dockerfiles:
import-manifest, then validate, then plan --all.

    .venv/bin/python -m tests.bench.bench_upstream_repos [--distros 29] [--runs 3]
    bash eng/bench.sh upstream_repos

The generated manifest has the .NET product shapes: repositories runtime-deps, runtime, aspnet, sdk, monitor,
runtime-extras and sdk-tools, each with the same tags (unique per repository only), a chain of parents across
repositories (runtime on runtime-deps on the distro, aspnet on runtime, sdk and monitor on aspnet, ...),
`ARG REPO=` FROMs naming the public mirror, versions as `$(...)` variables from an included file,
dockerfileTemplate on every platform, a multi-platform shared tag per distro in every repository. Each step
runs as a subprocess, as a user would; best of N. Goal: the three together under 3 s of CPU time.
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

from tests.bench.bench_upstream import adopt, print_results  # noqa: E402
from tests.fixtures.gitrepo import make_repo  # noqa: E402

GOAL_CPU_SECONDS = 3.0
APPROVED = ["mcr.microsoft.com/azurelinux/base/core:*"]
ARCHES = (("amd64", None, "amd64"), ("arm64", "v8", "arm64v8"), ("arm", "v7", "arm32v7"))
# repository -> its parent repository (None: the distro base)
REPOS = {"runtime-deps": None, "runtime": "runtime-deps", "aspnet": "runtime", "sdk": "aspnet",
         "monitor": "aspnet", "runtime-extras": "runtime-deps", "sdk-tools": "sdk"}
VERSION = {r: f"$({r}|9.0|product-version)" for r in REPOS}


def generate(distros: int) -> dict[str, str]:
    files: dict[str, str] = {"README.md": "# bench product images\n"}
    repos = []
    for repo, parent in REPOS.items():
        images = []
        for d in range(distros):
            distro = f"distro{d}"
            platforms = []
            for arch, variant, folder in ARCHES:
                path = f"src/{repo}/9.0/{distro}/{folder}"
                p = {"dockerfile": path, "dockerfileTemplate": f"eng/dockerfile-templates/{repo}/Dockerfile.linux",
                     "os": "linux", "osVersion": distro, "architecture": arch,
                     "tags": {f"{VERSION[repo]}-{distro}-{folder}": {}, f"9.0-{distro}-{folder}": {}}}
                if variant:
                    p["variant"] = variant
                platforms.append(p)
                base = (f"mcr.microsoft.com/azurelinux/base/core:{d}" if parent is None else
                        f"$REPO:9.0.{len(parent)}-{distro}-{folder}")
                files[f"{path}/Dockerfile"] = (
                    (f"ARG REPO=mcr.microsoft.com/dotnet/{parent}\n" if parent else "") +
                    f"FROM {base}\nENV {repo.upper().replace('-', '_')}_VERSION=9.0.{len(repo)}\n"
                    f"RUN echo {repo} {distro} {folder}\n")
            images.append({"sharedTags": {f"{VERSION[repo]}-{distro}": {}, f"9.0-{distro}": {}},
                           "platforms": platforms})
        repos.append({"id": repo, "name": f"dotnet/{repo}", "images": images,
                      "readmes": [{"path": f"README.{repo}.md", "templatePath": "eng/readme-templates/README.md"}]})
    files["manifest.versions.json"] = json.dumps(
        {"variables": {f"{r}|9.0|product-version": f"9.0.{len(r)}" for r in REPOS}}, indent=2)
    files["manifest.json"] = json.dumps({"registry": "mcr.microsoft.com", "includes": ["manifest.versions.json"],
                                         "repos": repos}, indent=2)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distros", type=int, default=29)
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    count = opts.distros * len(ARCHES) * len(REPOS)
    with tempfile.TemporaryDirectory(prefix="lifecycle-bench-") as tmp:
        files = generate(opts.distros)
        upstream = make_repo(Path(tmp), files, name="upstream")
        dest = make_repo(Path(tmp), {"README.md": "# adopted\n"}, name="dest")
        print(f"upstream: {count} Dockerfiles in {len(REPOS)} repositories, {len(files)} files, "
              f"{os.cpu_count()} cpus")
        results, images = adopt(upstream, dest, APPROVED, count, opts.runs)
        planned = {e["tagbase"]: e["parents"] for e in images}

        def repo_of(name: str) -> str:  # the default repository (runtime-deps, the first) names images bare
            return name.partition(":")[0].removeprefix("dotnet/") if ":" in name else "runtime-deps"

        # each image has exactly its parent repository's image of the same distro and architecture
        for name, parents in planned.items():
            want = REPOS[repo_of(name)]
            assert [repo_of(p) for p in parents] == ([want] if want else []), (name, parents)
            assert all(p.rpartition(":")[2].split("-", 1)[1] == name.rpartition(":")[2].split("-", 1)[1]
                       for p in parents), (name, parents)
        total, total_cpu = print_results(results, opts.runs)
        ok = total_cpu < GOAL_CPU_SECONDS
        print(f"{'all three':<18} wall {total:6.2f} s  cpu {total_cpu:6.2f} s  "
              f"{'ok' if ok else f'OVER the {GOAL_CPU_SECONDS:.0f} s CPU goal'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
