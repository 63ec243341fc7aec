"""OS patches measured inside the image, on a real Debian base that was not refreshed (issue: the base digest
does not move while the distribution ships security fixes).

One Debian image, through the CLI as the nightly pipeline runs it: publish, `stale` finds the pending security
updates inside the image, the catalogue turns on `osUpgrade`, the publish of the stale matrix's images
rebuilds it with the upgrade step, and the same check then finds none. Needs Debian's package servers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle.build.labels import parse_time
from lifecycle.build.osupgrade import RECORD, label_key
from lifecycle.build.publish import publish
from lifecycle.output import Reporter
from lifecycle.packages import check_image
from lifecycle.catalogue.source import WorkTree, run_git
from lifecycle.catalogue.workspace import Workspace
from tests.fixtures.lifecycle_repo import LABEL_PREFIX, gitops_repo

pytestmark = [pytest.mark.e2e, pytest.mark.engine]

APP = "debian-12-app-amd64"
PENDING = re.compile(r"^(\d+) security updates? pending \(([^)]*)\); ")


def cli(engine, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_HOST": engine.base_url}
    return subprocess.run([sys.executable, "-m", "lifecycle", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=900)


def stale_json(engine, repo: Path) -> dict:
    done = cli(engine, "stale", "--repo", str(repo), "--channel", "staging", "--matrix", "--output", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_unrefreshed_debian_image_is_stale_until_the_rebuild_upgrades_it(tmp_path, registry, engine, debian_base,
                                                                        unique_repo):
    client = registry.client()
    repo = gitops_repo(tmp_path, registry.host, unique_repo, {
        APP: f"FROM {debian_base.ref}\nRUN echo app > /etc/app-release\n"},
        extra={APP: {"tests": '["test -f /etc/app-release", "dpkg -s apt >/dev/null"]'}})
    done = cli(engine, "publish", "--repo", str(repo), "--all")
    assert done.returncode == 0, done.stderr
    first = client.resolve(unique_repo, f"{APP}-staging")
    definition = Workspace.load(WorkTree(repo)).definitions[APP]

    data = stale_json(engine, repo)
    entry = data["images"][0]
    assert entry["status"] == "stale" and data["stale"] == [APP]
    assert len(entry["reasons"]) == 1, entry["reasons"]
    m = PENDING.match(entry["reasons"][0])
    assert m, entry["reasons"][0]
    count, names = int(m.group(1)), m.group(2).rstrip(", .").split(", ")
    packages = entry["packages"]
    assert count > 0 and packages["security"] == count and packages["family"] == "apt"
    assert packages["digest"] == first and "Debian GNU/Linux 12" in packages["os"]
    security = {u["name"] for u in packages["updates"] if u["security"]}
    assert set(names) <= security and len(security) == count
    assert all("Security" in u["origin"] for u in packages["updates"] if u["security"])
    assert "set osUpgrade or refresh the base" in entry["reasons"][0]
    assert [leg["images"] for leg in data["matrix"].values()] == [APP]

    # what a maintainer does when the base is not refreshed: turn on the upgrade step; the definition stays
    images = repo / "manifests/images.yml"
    images.write_text(images.read_text().replace(f"  - tagBase: {APP}\n", f"  - tagBase: {APP}\n    osUpgrade: true\n"))
    run_git(repo, "commit", "-qam", f"{APP}: osUpgrade")
    assert Workspace.load(WorkTree(repo)).definitions[APP] == definition

    # the nightly leg publishes the matrix's images without --refresh: the skip rule must not keep the old one
    done = cli(engine, "publish", "--repo", str(repo), "--images", APP)
    assert done.returncode == 0, done.stderr
    second = client.resolve(unique_repo, f"{APP}-staging")
    assert second != first
    labels = client.config(unique_repo, second).labels
    assert labels[f"{LABEL_PREFIX}.definition"] == definition
    step = json.loads(labels[label_key(Workspace.load(WorkTree(repo)).policy)])
    assert step["record"] == RECORD and step["time"] == labels["org.opencontainers.image.created"]
    assert (repo / "src/debian/12/app/amd64/Dockerfile").read_text().count("RUN") == 1  # git's file untouched

    after = stale_json(engine, repo)
    entry = after["images"][0]
    assert entry["packages"]["digest"] == second and entry["packages"]["error"] == ""
    assert entry["packages"]["security"] == 0, entry["packages"]["updates"]
    assert entry["status"] == "current" and after["stale"] == [] and after["matrix"] == {}
    # the record inside the image names what the step upgraded: the packages the first check reported
    pinned = f"{registry.host}/{unique_repo}@{second}"
    if engine.image_id(pinned) is None:
        engine.pull(pinned)
    result = engine.run_test(pinned, f"cat {RECORD}")
    assert result.passed and set(names) <= {line.split()[0] for line in result.output.splitlines() if line}

    # a day later on the same engine (whose layer cache holds yesterday's upgrade layer): the step runs again
    upgraded = parse_time(step["time"])
    tomorrow = upgraded + dt.timedelta(days=1)
    report = publish(repo, [APP], channel="staging", client=client, engine=engine, reporter=Reporter(),
                     refresh=True, now=lambda: tomorrow)
    assert [r.status for r in report.results] == ["published"], [(r.status, r.reason) for r in report.results]
    third = client.resolve(unique_repo, f"{APP}-staging")
    again = json.loads(client.config(unique_repo, third).labels[label_key(Workspace.load(WorkTree(repo)).policy)])
    assert parse_time(again["time"]) == tomorrow
    before, after_day = (layers(client, unique_repo, d) for d in (second, third))
    # the Dockerfile's own steps come from the cache; the upgrade step's layer is new
    assert after_day[:-1] == before[:-1] and after_day[-1] != before[-1]
    client.close()


def refused_upgrade(engine, client, repo: Path, repository: str) -> tuple[str, str]:
    """Publish as written, then with osUpgrade, which must fail with nothing pushed and -staging unmoved.
    Returns the first -staging digest and the refused publish's output."""
    done = cli(engine, "publish", "--repo", str(repo), "--all")
    assert done.returncode == 0, done.stderr
    first = client.resolve(repository, f"{APP}-staging")
    tags_before = set(client.tags(repository))
    done = publish_with_os_upgrade(engine, repo)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert client.resolve(repository, f"{APP}-staging") == first  # -staging unmoved
    assert set(client.tags(repository)) == tags_before  # no immutable tag pushed either
    return first, done.stdout + done.stderr


def publish_with_os_upgrade(engine, repo: Path) -> subprocess.CompletedProcess:
    """What a maintainer does for an image whose base is not refreshed: osUpgrade on, committed, published."""
    images = repo / "manifests/images.yml"
    images.write_text(images.read_text().replace(f"  - tagBase: {APP}\n", f"  - tagBase: {APP}\n    osUpgrade: true\n"))
    run_git(repo, "commit", "-qam", f"{APP}: osUpgrade")
    return cli(engine, "publish", "--repo", str(repo), "--images", APP)


def layers(client, repository: str, digest: str) -> list[str]:
    return [layer["digest"] for layer in json.loads(client.manifest(repository, digest).raw)["layers"]]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_upgrade_that_cannot_reach_the_package_servers_fails_and_the_old_image_stays(tmp_path, registry, engine,
                                                                                      debian_base, unique_repo):
    # http_proxy is one of the engines' predefined build args: the step's apt-get then meets a closed port
    client = registry.client()
    proxy = f"http://127.0.0.1:{closed_port()}"
    repo = gitops_repo(tmp_path, registry.host, unique_repo, {APP: f"FROM {debian_base.ref}\nRUN true\n"},
                       extra={APP: {"buildArgs": json.dumps({"http_proxy": proxy})}})
    first, output = refused_upgrade(engine, client, repo, unique_repo)
    assert "the package index could not be fetched: nothing upgraded" in output

    entry = stale_json(engine, repo)["images"][0]
    assert entry["status"] == "stale" and entry["packages"]["digest"] == first
    assert entry["packages"]["security"] > 0 and PENDING.match(entry["reasons"][0]), entry["reasons"]
    client.close()


# A vendor package certified against one version of a library, as third-party agents often are: it conflicts with
# any newer one, so `apt-get upgrade` (which never removes a package) keeps that library back, while the package
# check's `apt-get -s dist-upgrade` still lists its security update.
VENDOR_PACKAGE = r"""p={package}; v=$(dpkg-query -W -f='${{Version}}' $p); mkdir -p /tmp/vendor/DEBIAN && \
printf 'Package: vendor-agent\nVersion: 1.0\nArchitecture: all\nMaintainer: vendor <ops@example.com>\nConflicts: %s (>> %s)\nDescription: certified against one %s only\n' $p "$v" $p > /tmp/vendor/DEBIAN/control && \
dpkg-deb -b /tmp/vendor /tmp/vendor-agent.deb >/dev/null && dpkg -i /tmp/vendor-agent.deb && rm -rf /tmp/vendor*"""


def test_a_security_update_the_upgrade_cannot_apply_fails_the_image_and_nothing_moves(tmp_path, registry, engine,
                                                                                     debian_base, unique_repo):
    pending = sorted(update.name for update in check_image(engine, debian_base.ref).security)
    assert pending, "the un-refreshed Debian base has no pending security update to hold back"
    package = "tzdata" if "tzdata" in pending else pending[-1]
    client = registry.client()
    repo = gitops_repo(tmp_path, registry.host, unique_repo,
                       {APP: f"FROM {debian_base.ref}\nRUN {VENDOR_PACKAGE.format(package=package)}\n"})
    first, output = refused_upgrade(engine, client, repo, unique_repo)
    refusal = re.search(r"1 security update still pending after the OS upgrade step \(([^)]*)\)", output)
    assert refusal and refusal.group(1) == package, output

    entry = stale_json(engine, repo)["images"][0]
    assert entry["status"] == "stale" and entry["packages"]["digest"] == first
    assert package in {u["name"] for u in entry["packages"]["updates"] if u["security"]}
    client.close()
