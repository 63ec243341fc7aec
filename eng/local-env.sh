#!/usr/bin/env bash
# Local container engine and registry for developers, CI and the tests.
#
#   eng/local-env.sh up [engine] [registry]   install what is missing, start (idempotent), print env
#   eng/local-env.sh down [engine] [registry] stop them (default: every engine kind and the registry)
#   eng/local-env.sh env                      print `export ...` lines: eval "$(eng/local-env.sh env)"
#   eng/local-env.sh status                   what runs, exit 1 when something is down
#   eng/local-env.sh install                  only install the Debian packages (benchmarks)
#   eng/local-env.sh debian-rootfs            build (once, cached) the un-refreshed Debian base; print its path
#
# Engine (LIFECYCLE_ENGINE, default podman):
# - podman: podman's Docker-compatible API service on unix://$STATE/podman.sock, configured only
#   through CONTAINERS_CONF / CONTAINERS_REGISTRIES_CONF / CONTAINERS_STORAGE_CONF (never /etc);
# - docker: Docker Engine (Debian's docker.io), the engine of Azure Pipelines' hosted agents, on
#   unix://$STATE/docker.sock with its own data root, exec root and pid file under $STATE/docker, its own
#   choice of storage driver (overlay2; LIFECYCLE_DOCKER_STORAGE_DRIVER overrides), plain HTTP to loopback
#   registries, and the default bridge (never --bridge=none: that deletes
#   the host's docker0, which every other daemon on the machine uses).
# Registry: the CNCF distribution registry (Debian `docker-registry`) on 127.0.0.1:$PORT,
# delete enabled, storage under $STATE. See docs/local-environment.md.
#
# Environment: LIFECYCLE_STATE (default <repo>/.local), LIFECYCLE_REGISTRY_PORT (default: the
# first free port from 55000; must be within 55000-55049, the range that
# eng/containers/registries.conf lets podman use over plain HTTP). LIFECYCLE_CACHE (default
# ~/.cache/lifecycle): the Debian root file system, kept across runs and states. LIFECYCLE_DEBIAN_SUITE
# (default bookworm), LIFECYCLE_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${LIFECYCLE_STATE:-$REPO/.local}
CONF_SRC=$REPO/eng/containers
CONF_DIR=$STATE/containers
ENGINE_KIND=${LIFECYCLE_ENGINE:-podman}
case $ENGINE_KIND in
  podman | docker) ;;
  *) echo "local-env: error: LIFECYCLE_ENGINE=$ENGINE_KIND: the engines are podman and docker" >&2; exit 2 ;;
esac
ENGINE_KINDS=(podman docker)
SOCK=$STATE/$ENGINE_KIND.sock
ENGINE_PID=$STATE/$ENGINE_KIND.pid
DOCKER_DIR=$STATE/docker
REGISTRY_PID=$STATE/registry.pid
REGISTRY_PORT_FILE=$STATE/registry.port
PORT_MIN=55000
PORT_MAX=55049
# skopeo: the tests compare pushed digests with it. uidmap: podman needs newuidmap when a
# developer runs it without root.
PACKAGES=(podman runc docker-registry busybox-static skopeo uidmap apache2-utils git mmdebstrap)
# chromium + its driver: the status page's tests open the page in a real headless browser (selenium).
PACKAGES+=(chromium chromium-driver)
# Other architectures (arm64, arm/v7) are built and tested under QEMU user emulation.
EMULATION_PACKAGES=(qemu-user-static binfmt-support)
PACKAGES+=("${EMULATION_PACKAGES[@]}")
# Docker Engine only where it is asked for: it brings containerd and iptables along.
[[ $ENGINE_KIND != docker ]] || PACKAGES+=(docker.io iptables)
# Debian architectures whose busybox-static seeds the arm64 and arm/v7 test bases (lifecycle.build.localbase),
# and the binfmt_misc entries (from qemu-user-static) that run their binaries.
FOREIGN_ARCHES=(arm64 armhf)
BINFMT_ENTRIES=(qemu-aarch64 qemu-arm)
BINFMT=/proc/sys/fs/binfmt_misc
BUSYBOX_DIR=${LIFECYCLE_BUSYBOX_DIR:-$REPO/.local/busybox}
CACHE=${LIFECYCLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifecycle}
DEBIAN_SUITE=${LIFECYCLE_DEBIAN_SUITE:-bookworm}
DEBIAN_MIRROR=${LIFECYCLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "local-env: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- installation -------------------------------------------------------------------------

missing_packages() {
  local p missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

install_packages() {
  local missing
  missing=$(missing_packages)
  [[ -z $missing ]] && return 0
  command -v apt-get >/dev/null || die "missing packages ($missing) and no apt-get to install them"
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || die "missing packages ($missing); run as root or install sudo"
    sudo=(sudo -n)
  fi
  log "installing: $missing"
  # One update only, and only because something is missing. No recommends: buildah, slirp4netns,
  # fuse-overlayfs etc. are not needed with vfs storage and the host network.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
}

# --- other architectures ------------------------------------------------------------------

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

# QEMU user emulation: binfmt_misc mounted, and the aarch64 and arm entries registered with the
# kernel (qemu-user-static ships them with the fix-binary flag, so they work inside containers).
# Without privileges this only warns: amd64 images still build, foreign ones fail with a clear error.
setup_emulation() {
  if [[ ! -e $BINFMT/status ]]; then
    as_root mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null ||
      { log "warning: cannot mount binfmt_misc on $BINFMT: arm64/arm images cannot be built here"; return 0; }
  fi
  local entry
  for entry in "${BINFMT_ENTRIES[@]}"; do
    [[ -e $BINFMT/$entry ]] && continue
    as_root update-binfmts --enable "$entry" >&2 ||
      log "warning: could not register $entry with binfmt_misc: its architecture cannot be emulated"
  done
}

# Debian's busybox-static for each foreign architecture, extracted (not installed: it would replace
# the host's /bin/busybox) into $BUSYBOX_DIR/<arch>/busybox. Network only when one is missing.
# Like setup_emulation, a missing privilege only warns: the arm bases then cannot be built.
foreign_busybox() {
  local arch missing=() updated=""
  for arch in "${FOREIGN_ARCHES[@]}"; do
    [[ -x $BUSYBOX_DIR/$arch/busybox ]] || missing+=("$arch")
  done
  ((${#missing[@]})) || return 0
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300)
  for arch in "${missing[@]}"; do
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      as_root dpkg --add-architecture "$arch" ||
        { log "warning: cannot add the Debian architecture $arch: no arm bases here"; return 0; }
      updated=no # the new architecture's package lists are not there yet
    fi
  done
  if [[ $updated == no ]]; then
    as_root "${apt[@]}" update || { log "warning: apt-get update failed: no arm bases here"; return 0; }
    updated=yes
  fi
  local tmp
  tmp=$(mktemp -d)
  chmod 0777 "$tmp" # apt's download sandbox user writes here
  for arch in "${missing[@]}"; do
    if ! (cd "$tmp" && apt-get download -qq "busybox-static:$arch" 2>/dev/null); then
      # lists older than the archive (the .deb moved on): refresh once and retry
      [[ $updated == yes ]] || { as_root "${apt[@]}" update || true; updated=yes; }
      (cd "$tmp" && apt-get download -qq "busybox-static:$arch") >&2 ||
        { rm -rf "$tmp"; die "cannot download busybox-static:$arch"; }
    fi
    mkdir -p "$tmp/$arch"
    dpkg-deb -x "$tmp"/busybox-static_*_"$arch".deb "$tmp/$arch"
    install -D -m 0755 "$tmp/$arch/bin/busybox" "$BUSYBOX_DIR/$arch/busybox"
    log "busybox for $arch: $BUSYBOX_DIR/$arch/busybox"
  done
  rm -rf "$tmp"
}

# --- helpers ------------------------------------------------------------------------------

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

engine_answers() { # [socket]
  local sock=${1:-$SOCK}
  [[ -S $sock ]] || return 1
  python3 - "$sock" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
data = b""
while chunk := s.recv(4096):
    data += chunk
sys.exit(0 if data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n")[0] else 1)
PY
}

registry_answers() {
  python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v2/", timeout=5) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

port_in_use() {
  # SO_REUSEADDR as the registry itself binds: connections in TIME_WAIT from a registry that
  # was just stopped must not count as "in use".
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
PY
}

wait_for() { # seconds, description, command...
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  die "$what did not come up within ${seconds}s"
}

# The port asked for: LIFECYCLE_REGISTRY_PORT, else the one this state's registry last used,
# else empty (= the first free one in the range, chosen by start_registry).
requested_port() {
  local port=${LIFECYCLE_REGISTRY_PORT:-}
  if [[ -z $port && -f $REGISTRY_PORT_FILE ]] && pid_alive "$REGISTRY_PID"; then port=$(cat "$REGISTRY_PORT_FILE"); fi
  if [[ -n $port ]]; then
    [[ $port =~ ^[0-9]+$ ]] && ((port >= PORT_MIN && port <= PORT_MAX)) ||
      die "LIFECYCLE_REGISTRY_PORT=$port is outside $PORT_MIN-$PORT_MAX, the range eng/containers/registries.conf marks as plain-HTTP registries for the engine"
  fi
  echo "$port"
}

first_free_port() {
  local port
  for ((port = PORT_MIN; port <= PORT_MAX; port++)); do
    port_in_use "$port" || { echo "$port"; return 0; }
  done
  die "no free port in $PORT_MIN-$PORT_MAX for the registry"
}

render() { # template, output
  local nofile nproc
  nofile=$(ulimit -n)
  # runc cannot set an unlimited nofile; fall back to a common hard limit.
  [[ $nofile == unlimited ]] && nofile=1048576
  nproc=4096
  sed -e "s|@STATE@|$STATE|g" -e "s|@NOFILE@|$nofile|g" -e "s|@NPROC@|$nproc|g" -e "s|@DRIVER@|${DRIVER:-vfs}|g" \
    "$1" >"$2.tmp"
  mv "$2.tmp" "$2"
}

engine_env() {
  export CONTAINERS_CONF=$CONF_DIR/containers.conf
  export CONTAINERS_STORAGE_CONF=$CONF_DIR/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$CONF_SRC/registries.conf
}

# --- engine -------------------------------------------------------------------------------

start_engine() {
  if pid_alive "$ENGINE_PID" && engine_answers; then
    log "engine already running ($ENGINE_KIND, pid $(cat "$ENGINE_PID"), $SOCK)"
    return 0
  fi
  stop_engine "$ENGINE_KIND" quiet
  rm -f "$SOCK"
  "start_$ENGINE_KIND"
  log "engine up ($ENGINE_KIND, pid $(cat "$ENGINE_PID"), unix://$SOCK)"
}

# podman's storage driver: LIFECYCLE_PODMAN_STORAGE_DRIVER, else overlay where this user may mount a
# kernel overlay (root, as on the CI machines: it stacks layers, where vfs copies the whole root file
# system for every build step and made the engine tests' pass twice as long), else vfs, which works anywhere.
podman_storage_driver() {
  if [[ -n ${LIFECYCLE_PODMAN_STORAGE_DRIVER:-} ]]; then
    echo "$LIFECYCLE_PODMAN_STORAGE_DRIVER"
    return 0
  fi
  local probe driver=vfs
  probe=$(mktemp -d "$STATE/overlay-probe.XXXXXX")
  mkdir -p "$probe"/{lower,upper,work,merged}
  if [[ $EUID -eq 0 ]] && mount -t overlay overlay \
    -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"
    driver=overlay
  fi
  rm -rf "$probe"
  echo "$driver"
}

start_podman() {
  mkdir -p "$CONF_DIR" "$STATE/run" "$STATE/storage" "$STATE/network"
  local DRIVER
  DRIVER=$(podman_storage_driver)
  render "$CONF_SRC/containers.conf.in" "$CONF_DIR/containers.conf"
  render "$CONF_SRC/storage.conf.in" "$CONF_DIR/storage.conf"
  engine_env
  # setsid: the service must outlive this script and not get the caller's terminal signals.
  # --time=0: never exit on idle; `down` stops it.
  setsid podman system service --time=0 "unix://$SOCK" </dev/null >>"$STATE/podman.log" 2>&1 &
  echo $! >"$ENGINE_PID"
  wait_for 60 "podman service (log: $STATE/podman.log)" engine_answers
}

start_docker() {
  command -v dockerd >/dev/null || die "dockerd is missing (LIFECYCLE_ENGINE=docker eng/local-env.sh install)"
  mkdir -p "$DOCKER_DIR/root" "$DOCKER_DIR/exec"
  # Every path of its own, so that it shares nothing with a system daemon or another checkout's: data,
  # exec root (its containerd and its sockets), pid file and API socket. 127.0.0.0/8 over plain HTTP: the
  # local registry's port is chosen at run time.
  # Storage: dockerd's own choice (overlay2 wherever the kernel has overlay, as on the hosted agents; it
  # copies no layers, unlike vfs, which costs a full copy of the root file system per build step);
  # LIFECYCLE_DOCKER_STORAGE_DRIVER=vfs where overlay mounts are not allowed.
  local storage=()
  [[ -z ${LIFECYCLE_DOCKER_STORAGE_DRIVER:-} ]] || storage=(--storage-driver "$LIFECYCLE_DOCKER_STORAGE_DRIVER")
  setsid dockerd --data-root "$DOCKER_DIR/root" --exec-root "$DOCKER_DIR/exec" --pidfile "$DOCKER_DIR/dockerd.pid" \
    -H "unix://$SOCK" "${storage[@]}" --insecure-registry 127.0.0.0/8 </dev/null >>"$STATE/docker.log" 2>&1 &
  echo $! >"$ENGINE_PID"
  wait_for 120 "Docker Engine (log: $STATE/docker.log)" engine_answers
}

unmount_under() { # dir: every mount point below it, deepest first
  local mount
  awk -v dir="$1/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r mount; do
    umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || true
  done
}

# Stop one engine kind, or every kind this state has running.
stop_engine() { # [kind] [quiet]
  local kinds=("${ENGINE_KINDS[@]}") kind sock pidfile
  [[ -z ${1:-} ]] || kinds=("$1")
  for kind in "${kinds[@]}"; do
    sock=$STATE/$kind.sock
    pidfile=$STATE/$kind.pid
    if pid_alive "$pidfile"; then
      # Containers outlive the service (their conmon or shim is not its child): remove them first.
      if [[ $kind == podman && -d $CONF_DIR ]] && command -v podman >/dev/null; then
        (engine_env && podman rm --all --force --time 0 >/dev/null 2>&1) || true
      elif [[ $kind == docker ]] && engine_answers "$sock"; then
        local ids
        ids=$(docker -H "unix://$sock" ps -aq 2>/dev/null || true)
        # shellcheck disable=SC2086
        [[ -z $ids ]] || docker -H "unix://$sock" rm -f $ids >/dev/null 2>&1 || true
      fi
    fi
    stop_pid "$pidfile" "engine ($kind)" "${2:-}"
    if [[ $kind == docker ]]; then
      # Its own containerd (under its exec root) must not outlive a killed dockerd, nor the mounts it
      # leaves (the data root's bind mount, the netns): they would make the state impossible to remove.
      pkill -f -- "$DOCKER_DIR/exec" 2>/dev/null || true
      unmount_under "$DOCKER_DIR"
    else
      # overlay storage leaves a mount per container layer podman still had open.
      unmount_under "$STATE/storage"
    fi
    rm -f "$sock"
  done
}

# --- registry -----------------------------------------------------------------------------

start_registry() {
  local port
  port=$(requested_port)
  if pid_alive "$REGISTRY_PID"; then
    if [[ $(cat "$REGISTRY_PORT_FILE" 2>/dev/null) == "$port" ]] && registry_answers "$port"; then
      log "registry already running (pid $(cat "$REGISTRY_PID"), 127.0.0.1:$port)"
      return 0
    fi
    stop_pid "$REGISTRY_PID" registry
  fi
  rm -f "$REGISTRY_PID"
  if [[ -z $port ]]; then
    # Tests and other checkouts run registries in the same range: take the first free port
    # (55000 on a quiet machine) rather than failing.
    port=$(first_free_port)
  elif port_in_use "$port"; then
    die "127.0.0.1:$port is already in use by another process; set LIFECYCLE_REGISTRY_PORT to a free port in $PORT_MIN-$PORT_MAX"
  fi
  mkdir -p "$STATE/registry/data"
  cat >"$STATE/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
EOF
  setsid docker-registry serve "$STATE/registry/config.yml" </dev/null >>"$STATE/registry.log" 2>&1 &
  echo $! >"$REGISTRY_PID"
  echo "$port" >"$REGISTRY_PORT_FILE"
  wait_for 30 "registry on 127.0.0.1:$port (log: $STATE/registry.log)" registry_answers "$port"
  log "registry up (pid $(cat "$REGISTRY_PID"), 127.0.0.1:$port)"
}

stop_pid() { # pidfile, name, [quiet]
  local file=$1 name=$2 pid i
  if ! pid_alive "$file"; then
    rm -f "$file"
    return 0
  fi
  pid=$(cat "$file")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) did not stop on TERM; killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
  [[ ${3:-} == quiet ]] || log "$name stopped (pid $pid)"
}

# --- Debian base ---------------------------------------------------------------------------

debian_rootfs_path() { echo "$CACHE/debian/$DEBIAN_SUITE-minbase-$(dpkg --print-architecture).tar"; }

# A Debian root file system from the release suite ALONE (no -updates, no -security): it lacks every
# fix published since the point release, like a base image nobody refreshed, which is what the package
# check and the osUpgrade step are tested on. Built once (~16 s, ~170 MB) and kept under $CACHE, keyed
# by suite and architecture; delete the file to rebuild it. A lock serialises concurrent first builds.
debian_rootfs() {
  local out dir tmp
  out=$(debian_rootfs_path)
  dir=$(dirname "$out")
  mkdir -p "$dir"
  (
    flock 9
    if [[ ! -s $out ]]; then
      command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (eng/local-env.sh install)"
      tmp=$dir/.building-$$.tar
      log "building the Debian $DEBIAN_SUITE base with mmdebstrap ($DEBIAN_SUITE suite only) into $out"
      # The mirror is given explicitly: mmdebstrap adds -updates and -security only when it picks one.
      mmdebstrap --quiet --variant=minbase --mode=auto "$DEBIAN_SUITE" "$tmp" "$DEBIAN_MIRROR" >&2 ||
        { rm -f "$tmp"; die "mmdebstrap failed"; }
      mv "$tmp" "$out"
    fi
  ) 9>"$dir/.lock"
  echo "$out"
}

# --- commands -----------------------------------------------------------------------------

print_env() {
  echo "export DOCKER_HOST=unix://$SOCK"
  if [[ -f $REGISTRY_PORT_FILE ]]; then echo "export LIFECYCLE_REGISTRY=127.0.0.1:$(cat "$REGISTRY_PORT_FILE")"; fi
  # So that `podman` and `skopeo` in the same shell see the service's storage and settings.
  echo "export CONTAINERS_CONF=$CONF_DIR/containers.conf"
  echo "export CONTAINERS_STORAGE_CONF=$CONF_DIR/storage.conf"
  echo "export CONTAINERS_REGISTRIES_CONF=$CONF_SRC/registries.conf"
  if [[ -s $(debian_rootfs_path) ]]; then echo "export LIFECYCLE_DEBIAN_ROOTFS=$(debian_rootfs_path)"; fi
}

status() {
  local rc=0 port
  if pid_alive "$ENGINE_PID" && engine_answers; then
    echo "engine: running ($ENGINE_KIND, pid $(cat "$ENGINE_PID"), unix://$SOCK)"
  else
    echo "engine: stopped"
    rc=1
  fi
  port=$(cat "$REGISTRY_PORT_FILE" 2>/dev/null || true)
  if pid_alive "$REGISTRY_PID" && [[ -n $port ]] && registry_answers "$port"; then
    echo "registry: running (pid $(cat "$REGISTRY_PID"), 127.0.0.1:$port)"
  else
    echo "registry: stopped"
    rc=1
  fi
  return $rc
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    up)
      local parts=("$@")
      ((${#parts[@]})) || parts=(engine registry debian)
      requested_port >/dev/null
      install_packages
      setup_emulation
      foreign_busybox
      mkdir -p "$STATE"
      local part
      for part in "${parts[@]}"; do
        case $part in
          engine) start_engine ;;
          registry) start_registry ;;
          debian) debian_rootfs >/dev/null ;;
          *) die "unknown part '$part' (engine, registry, debian)" ;;
        esac
      done
      print_env
      ;;
    down)
      # No part: everything this state runs (every engine kind). `engine`: LIFECYCLE_ENGINE's only.
      local parts=("$@")
      ((${#parts[@]})) || parts=(engines registry)
      local part
      for part in "${parts[@]}"; do
        case $part in
          engines) stop_engine ;;
          engine) stop_engine "$ENGINE_KIND" ;;
          registry) stop_pid "$REGISTRY_PID" registry && rm -f "$REGISTRY_PORT_FILE" ;;
          *) die "unknown part '$part' (engine, registry)" ;;
        esac
      done
      ;;
    install)
      install_packages
      setup_emulation
      foreign_busybox
      ;;
    debian-rootfs) install_packages; debian_rootfs ;;
    env) print_env ;;
    status) status ;;
    *)
      echo "usage: $0 up [engine] [registry] [debian] | down | install | env | status | debian-rootfs" >&2
      exit 2
      ;;
  esac
}

main "$@"
