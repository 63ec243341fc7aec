#!/usr/bin/env bash
# The main job (README): installs what is missing, starts the local engine and registry, runs the
# weekly cycle on the local defaults (`lifecycle cycle`), stops what it started. Arguments go to
# `lifecycle cycle`.
set -euo pipefail
# shellcheck source=eng/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO"

ensure_venv
start_local_env

if lifecycle cycle --help >/dev/null 2>&1; then
  lifecycle cycle "$@"
else
  # Until `lifecycle cycle` exists: the read-only part of the flow.
  log "lifecycle cycle is not available yet; running validate, plan and matrix"
  lifecycle validate
  lifecycle plan --all
  lifecycle matrix --all
fi
