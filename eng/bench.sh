#!/usr/bin/env bash
# Every benchmark in one run (README "Benchmarks"): foundation (validate/plan on 1,000 images), registry
# retag (batch vs skopeo vs raw PUT floor), publish (cold vs no-op), records (what provenance + SBOM add per image), cleanup planning (5,000 tags vs
# skopeo per tag, sequential vs concurrent, ACR stand-in), engine timings, build matrix (critical path of level
# legs vs chain legs), status (250 images, 5,000 tags), upstream adoption (import + validate + plan of 250
# upstream-shaped images), multi_repo (one repository vs seven: no-op publish/rollout, reconcile after a revert), fleet (250 images, no-op publish/rollout, reconcile after a revert, cleanup plan over
# 50,000 tags; FLEET_IMAGES/FLEET_TAGS scale it down). Each starts its own registry/engine; results go to stdout
# and out/bench.md. Timings on shared machines are noisy: compare the ratios printed within one run.
#   bash eng/bench.sh [foundation retag publish records cleanup engine matrix status upstream upstream_repos multi_repo fleet]
set -euo pipefail
# shellcheck source=eng/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO"

ensure_venv
"$REPO/eng/local-env.sh" install
mkdir -p out
report=out/bench.md
benches=("$@")
[[ ${#benches[@]} -gt 0 ]] || benches=(foundation retag publish records cleanup engine matrix status upstream upstream_repos multi_repo fleet)
{
  echo "# Benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
} >"$report"
status=0
for bench in "${benches[@]}"; do
  log "benchmark: $bench"
  {
    echo
    echo "## $bench"
    echo
    python -m "tests.bench.bench_$bench" </dev/null 2>&1 || { echo "(benchmark $bench missed its goal or failed)"; exit 1; }
  } | tee -a "$report" || status=1
done
log "report: $report"
exit $status
