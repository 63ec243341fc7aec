#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, starts the local engine and
# registry, runs pytest, stops what it started.
#   eng/test.sh                 the whole suite on Docker Engine (the engine of Azure Pipelines' hosted
#                               agents), then every engine-facing e2e test (marker `engine`) on podman
#   eng/test.sh -k engine -x    any pytest arguments: one pass, on LIFECYCLE_ENGINE (default docker)
# Each pass prints its own summary line; the run fails when any pass fails or collects no test.
set -euo pipefail
# shellcheck source=eng/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO"

ensure_venv

# One pass: start the engine of that kind (and the registry), run pytest, stop that engine again so
# that the next pass's engine has the machine. Prints "<engine>: <pytest summary>" to $SUMMARY.
SUMMARY=$(mktemp)
STOP=() # what the current pass started, stopped when it ends or the script exits
stop_started() {
  ((${#STOP[@]} == 0)) || "$REPO/eng/local-env.sh" down "${STOP[@]}"
  STOP=()
}
trap 'stop_started; rm -f "$SUMMARY"' EXIT
run_pass() { # engine pytest-args...
  local kind=$1 rc running
  shift
  export LIFECYCLE_ENGINE=$kind
  running=$("$REPO/eng/local-env.sh" status 2>/dev/null || true)
  [[ $running == *"engine: running"* ]] || STOP+=(engine)
  [[ $running == *"registry: running"* ]] || STOP+=(registry)
  local env
  env=$("$REPO/eng/local-env.sh" up) || { log "error: the local $kind engine or registry did not start"; return 1; }
  eval "$env"
  log "pass on $kind: pytest $*"
  local start=$SECONDS out
  out=$(mktemp)
  set +e
  python -m pytest -q --durations=15 "$@" </dev/null | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  if [[ $rc -eq 5 ]]; then
    # pytest's "no tests collected": a pass that silently tests nothing must not pass.
    log "error: pytest collected no tests on $kind"
    rc=1
  fi
  printf '%s (%d min %d s, exit %d): %s\n' "$kind" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$rc" \
    "$(grep -E '^[=]* ?[0-9]+ (passed|failed|error)|no tests ran' "$out" | tail -1 | tr -d '=')" >>"$SUMMARY"
  rm -f "$out"
  # Only what this pass started is stopped: a developer's running session stays up.
  stop_started
  return "$rc"
}

rc=0
if (($#)); then
  run_pass "${LIFECYCLE_ENGINE:-docker}" "$@" || rc=$?
else
  run_pass docker || rc=$?
  run_pass podman -m engine tests/e2e || rc=$?
fi
log "summary:"
sed 's/^/  /' "$SUMMARY" >&2
exit $rc
