"""Benchmark: the build matrix of a generated 250-image upstream-shaped catalogue, chains vs levels.

    .venv/bin/python -m tests.bench.bench_matrix [--max-legs 20] [--runs 3]

The catalogue (tests/fixtures/fleet.py): three architectures, levels 0..4, a cross-build family in which one
builder has 30 children. For `--max-legs` legs it reports the critical path, the images built one after
another on the longest path (the sum over levels of the largest leg), of
- chain-per-leg (what `matrix` did before levels: one level, whole dependency chains per leg), and
- levels (`matrix --mode levels`: one job per dependency level, legs balanced by image count),
- split (`matrix --mode split`, what pull requests use since they push nothing: one level, a large family
  cut over legs that each rebuild the ancestors they need; the extra builds are shown),
and which one `--mode auto` picks. Goal: levels' critical path at most a third of chains'. The same is
printed for a minimal shape (only the 30-children family, everything else independent) for comparison,
without a goal: there the largest chain is short, so chains lose less. Also times `lifecycle matrix --all`
(a subprocess, best of N) on the 250 images. Exit 1 if the goal is missed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lifecycle.build.matrix import plan_matrix
from lifecycle.catalogue.source import WorkTree
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.fleet import upstream_shaped_files
from tests.fixtures.gitrepo import make_repo

LIFECYCLE = str(Path(sys.executable).parent / "lifecycle")
GOAL_RATIO = 1 / 3


def shape(root: Path, minimal: bool, max_legs: int) -> dict[str, object]:
    repo = make_repo(root, upstream_shaped_files(minimal=minimal))
    ws = Workspace.load(WorkTree(repo))
    tagbases = ws.order()
    chain = plan_matrix(ws, tagbases, max_legs, "chain")
    levels = plan_matrix(ws, tagbases, max_legs, "levels")
    auto = plan_matrix(ws, tagbases, max_legs, "auto")
    split = plan_matrix(ws, tagbases, max_legs, "split")
    return {"repo": repo, "images": len(tagbases), "chain": chain, "levels": levels, "auto": auto.mode,
            "split": split}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-legs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        results = {}
        for name, minimal in (("upstream-shaped", False), ("minimal fan-out", True)):
            r = shape(Path(tmp) / name.replace(" ", "-"), minimal, args.max_legs)
            results[name] = r
            chain, levels, split = r["chain"], r["levels"], r["split"]
            ratio = levels.critical_path() / chain.critical_path()
            extra = sum(len(leg.images) for leg in split.legs) - r["images"]
            rows.append(f"| {name} | {r['images']} | {chain.critical_path()} ({len(chain.legs)} legs) | "
                        f"{levels.critical_path()} ({levels.level_count} levels, {len(levels.legs)} legs, "
                        f"largest per level {[max(len(l.images) for l in levels.level(k)) for k in range(levels.level_count)]}) "
                        f"| {ratio:.2f} | {r['auto']} | {split.critical_path()} ({len(split.legs)} legs, "
                        f"{extra} extra builds) |")
        best = float("inf")
        for _ in range(args.runs):
            started = time.perf_counter()
            done = subprocess.run([LIFECYCLE, "matrix", "--repo", str(results["upstream-shaped"]["repo"]), "--all",
                                   "--max-legs", str(args.max_legs), "-o", "json"], capture_output=True, text=True)
            best = min(best, time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"lifecycle matrix failed: {done.stderr[-2000:]}")
    print(f"Critical path in images built one after another, at --max-legs {args.max_legs}:\n")
    print("| catalogue | images | chain-per-leg | levels | levels / chains | auto picks | split (no push) |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    upstream = results["upstream-shaped"]
    ratio = upstream["levels"].critical_path() / upstream["chain"].critical_path()
    print(f"\n`lifecycle matrix --all` on {upstream['images']} images: {best:.2f} s (best of {args.runs})")
    ok = ratio <= GOAL_RATIO and upstream["auto"] == "levels"
    print(f"goal: levels at most {GOAL_RATIO:.2f} of chains on the upstream-shaped catalogue: "
          f"{ratio:.2f} {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
