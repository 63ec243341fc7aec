#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, starts the local engine and
# registry, runs pytest (arguments are passed through), stops what it started.
#   eng/test.sh                 the whole suite (tests/unit and tests/e2e)
#   eng/test.sh -k engine -x    any pytest arguments
set -euo pipefail
# shellcheck source=eng/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO"

ensure_venv
start_local_env

set +e
python -m pytest -q "$@" </dev/null
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  # pytest's "no tests collected": a suite that silently tests nothing must not pass.
  log "error: pytest collected no tests"
  rc=1
fi
exit $rc
