"""The OS upgrade step publish adds to a build: how an image gets its distribution's fixes when its base has not
been refreshed.

Images catalogued with `osUpgrade: true` (or under the policy default `osUpgrade: true`) are built from their
Dockerfile as written plus one instruction appended to the final stage: a RUN (exec form, so a SHELL instruction
cannot change it) that finds the image's package manager and applies every pending update, with the
distribution's security and updates suites added for that step only. The Dockerfile in git is untouched: publish
builds a generated Dockerfile (its FROM lines pinned, lifecycle.build.pinning) with the step appended. When the final
stage switches USER, the step runs as root and switches back.

The step fails closed: a package index that cannot be fetched fails the build (apt only warns and exits 0 by
default, and then upgrades nothing), and publish fails an image in which the package check still finds a security update (build/publish.py).
Its text carries the build time, so a persistent engine's layer cache never serves an old upgrade layer under a
new label. Publish builds it with an explicit network (lifecycle.build.engine.BUILD_NETWORK).

What the step did is recorded twice: the label `<labelPrefix>.os-upgrade` (JSON: when, what kind of step, where
the record is) and the record file itself, `/usr/share/lifecycle/os-upgrade.txt` in the image (one line per
upgraded package: name, old version, new version; or the package manager's own listing).

The step is not part of the definition hash: like a base refresh it gives the same definition a new digest,
so rollout, LKG and rollback treat it as one.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from lifecycle.catalogue.catalog import ImageSpec

from lifecycle.catalogue.policy import Policy
from lifecycle.catalogue.dockerfile import _logical_lines
from lifecycle.build.labels import parse_time, rfc3339

RECORD = "/usr/share/lifecycle/os-upgrade.txt"
MARKER = "# lifecycle osUpgrade step (added at build time; see docs/operations.md)"

# Runs inside the image. The apt branch adds the security and updates suites of the image's own release for
# this step only (an un-refreshed Debian base lists the release alone) and leaves sources.list as it was.
UPGRADE_SCRIPT = r"""set -e
mkdir -p /usr/share/lifecycle
rec=/usr/share/lifecycle/os-upgrade.txt
if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  . /etc/os-release
  extra=/etc/apt/sources.list.d/zz-lifecycle-upgrade.list
  c=${VERSION_CODENAME:-}
  case "${ID}" in
    ubuntu) printf '%s\n' "deb http://security.ubuntu.com/ubuntu $c-security main universe" \
                        "deb http://archive.ubuntu.com/ubuntu $c-updates main universe" > "$extra" ;;
    debian) [ -n "$c" ] && printf '%s\n' "deb http://deb.debian.org/debian-security $c-security main" \
                                        "deb http://deb.debian.org/debian $c-updates main" > "$extra" ;;
  esac
  # apt-get update only warns when an index cannot be fetched: Error-Mode=any (apt >= 2.3) makes that an
  # error, and the W:/E: lines catch an older apt that ignores the option
  log=$(mktemp)
  if ! apt-get -o APT::Update::Error-Mode=any update -q > "$log" 2>&1 || grep -Eq '^(W|E|Err):' "$log"; then
    cat "$log"; echo "lifecycle osUpgrade: the package index could not be fetched: nothing upgraded" >&2; exit 1
  fi
  rm -f "$log"
  apt-get -s -q upgrade --with-new-pkgs | sed -n 's/^Inst \([^ ]*\) \[\([^]]*\)\] (\([^ ]*\) .*/\1 \2 \3/p' > "$rec"
  apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade --with-new-pkgs
  rm -f "$extra"
  apt-get clean
  rm -rf /var/lib/apt/lists/*
elif command -v tdnf >/dev/null 2>&1; then
  tdnf -q makecache
  tdnf -q list updates > "$rec" || true  # non-zero when nothing is pending; makecache above failed closed
  tdnf -y -q upgrade
  tdnf clean all
elif command -v dnf >/dev/null 2>&1; then
  # check-update exits 100 when updates are pending, 1 when a repository cannot be read
  dnf -q --refresh --setopt=skip_if_unavailable=False makecache
  rc=0; dnf -q --setopt=skip_if_unavailable=False check-update > "$rec" || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 100 ] || exit 1
  dnf -y -q --setopt=skip_if_unavailable=False upgrade
  dnf clean all
elif command -v apk >/dev/null 2>&1; then
  apk update -q  # exits with the number of repositories it could not read
  apk version -l '<' > "$rec"
  apk upgrade --no-cache
else
  echo "no known package manager (apt-get, tdnf, dnf, apk): nothing upgraded" | tee "$rec"
fi
echo "lifecycle osUpgrade: $(grep -c . "$rec" || true) package line(s) recorded in $rec"
"""

_USER_RE = re.compile(r"^USER\s+(\S.*)$", re.IGNORECASE)
_FROM_RE = re.compile(r"^FROM\s", re.IGNORECASE)


def label_key(policy: Policy) -> str:
    return f"{policy.label_prefix}.os-upgrade"


def wanted(image: ImageSpec, policy: Policy) -> bool:
    return policy.wants_os_upgrade(image)


def final_stage_user(text: str) -> str | None:
    """The last USER the final stage sets, if any (an inherited USER from the base is not visible here)."""
    user = None
    for _, line in _logical_lines(text):
        if _FROM_RE.match(line):
            user = None
        elif m := _USER_RE.match(line):
            user = m.group(1).strip()
    return user


def upgraded_dockerfile(text: str, created: dt.datetime) -> str:
    """The Dockerfile text with the upgrade step appended to its final stage.

    The build time opens the step's script: the text of a RUN is its cache key, so each build runs it anew.
    """
    user = final_stage_user(text)
    lines = [text.rstrip("\n"), "", MARKER]
    if user is not None:
        lines.append("USER root")
    lines.append("RUN " + json.dumps(["/bin/sh", "-c", step_script(created)]))
    if user is not None:
        lines.append(f"USER {user}")
    return "\n".join(lines) + "\n"


def step_script(created: dt.datetime) -> str:
    return f"echo 'lifecycle osUpgrade step of {rfc3339(created)}'\n" + UPGRADE_SCRIPT


def upgrade_label(policy: Policy, created: dt.datetime) -> dict[str, str]:
    # failClosed: the step failed on an unreadable package index and publish checked the image before pushing,
    # so a security update pending in it now was published after `time` (packages/rules.py relies on it)
    value = {"time": rfc3339(created), "step": "appended RUN: apt-get/tdnf/dnf/apk upgrade", "record": RECORD,
             "failClosed": True}
    return {label_key(policy): json.dumps(value, sort_keys=True, separators=(",", ":"))}


def upgraded_at(labels: dict[str, str], policy: Policy) -> dt.datetime | None:
    """When the image's upgrade step ran (None: the image was built without one)."""
    raw = labels.get(label_key(policy))
    if not raw:
        return None
    try:
        return parse_time(json.loads(raw).get("time"))
    except (json.JSONDecodeError, AttributeError):
        return None


def fail_closed(labels: dict[str, str], policy: Policy) -> bool:
    """Whether the image's upgrade step was one that cannot succeed without the package index (see upgrade_label)."""
    try:
        return json.loads(labels.get(label_key(policy)) or "{}").get("failClosed") is True
    except (json.JSONDecodeError, AttributeError):
        return False


def needs_rebuild(labels: dict[str, str], policy: Policy, now: dt.datetime) -> str | None:
    """Publish's skip rule for an image that wants the step: why its channel image must be rebuilt, or None.

    Mirrors `stale`: without a step the image has whatever its base carried; with one older than
    maxSecurityPatchDays, fixes published since may have waited longer than the policy allows.
    """
    when = upgraded_at(labels, policy)
    if when is None:
        return "built without the OS upgrade step"
    if now - when > dt.timedelta(days=policy.max_security_patch_days):
        return f"OS upgrade step ran {(now - when).days} days ago (policy: {policy.max_security_patch_days})"
    return None


