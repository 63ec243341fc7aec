# Shared by eng/test.sh and eng/main-job.sh (sourced, not run): Debian packages, the Python
# virtual environment, and the local engine + registry for the duration of the caller.
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$REPO/.venv

log() { echo "[$(basename "$0")] $*" >&2; }

# Python >= 3.11 with venv support; Debian splits venv/ensurepip into python3-venv.
ensure_python() {
  local python=${PYTHON:-python3}
  if ! command -v "$python" >/dev/null || ! "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    log "installing python3 and python3-venv"
    local sudo=()
    [[ $EUID -eq 0 ]] || sudo=(sudo -n)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >&2
  fi
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { log "error: Python >= 3.11 is needed"; exit 1; }
}

# .venv with the package in editable mode. Re-installed only when pyproject.toml changed since the
# last install, so that a warm run needs neither PyPI nor the ~10 s pip takes to check everything.
ensure_venv() {
  local stamp=$VENV/.lifecycle-installed
  if [[ ! -x $VENV/bin/python ]]; then
    ensure_python
    log "creating $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
  fi
  if [[ ! -f $stamp || $REPO/pyproject.toml -nt $stamp ]]; then
    log "pip install -e '.[test]'"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$REPO[test]" >&2
    touch "$stamp"
  fi
  export PATH=$VENV/bin:$PATH
}

# Start engine and registry (installing what is missing) and export their environment. Stops them
# on exit, unless they were already running when we came: a developer's own session stays up.
start_local_env() {
  if "$REPO/eng/local-env.sh" status >/dev/null 2>&1; then
    log "local engine and registry already running; leaving them running afterwards"
  else
    trap '"$REPO/eng/local-env.sh" down' EXIT
  fi
  local env
  env=$("$REPO/eng/local-env.sh" up)
  eval "$env"
}
