"""What changes for consumers, down to the OS packages: a real Debian image (the un-refreshed base of
tests/fixtures/debian.py) published and rolled out, then rebuilt on main with osUpgrade. `status --diff`
(terminal and JSON) and the page (`status --packages --html`, opened in headless Chromium) list the packages
the upgrade changed, with the versions installed in each image, read inside both images. Needs Debian's
package servers, as tests/e2e/test_os_patches.py does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lifecycle.catalogue.source import run_git
from tests.fixtures.lifecycle_repo import gitops_repo

pytestmark = pytest.mark.e2e

APP = "debian-12-app-amd64"


def cli(engine, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_HOST": engine.base_url}
    return subprocess.run([sys.executable, "-m", "lifecycle", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=900)


def installed(engine, ref: str) -> dict[str, str]:
    """dpkg's own answer inside the image: name -> version (independent of the check's script)."""
    if engine.image_id(ref) is None:
        engine.pull(ref)
    result = engine.run_test(ref, "dpkg-query -W -f='${Package} ${Version}\\n'")
    assert result.passed, result.output
    return dict(line.split(" ", 1) for line in result.output.splitlines() if line.count(" ") == 1)


@pytest.fixture
def upgraded(tmp_path, registry, engine, debian_base, unique_repo):
    """-latest: the Debian image as published and rolled out; -staging: rebuilt on main with osUpgrade."""
    repo = gitops_repo(tmp_path, registry.host, unique_repo, {APP: f"FROM {debian_base.ref}\nRUN true\n"})
    bare = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(repo, "remote", "add", "origin", str(bare))
    run_git(repo, "push", "-q", "origin", "main", "main:production")
    run_git(repo, "fetch", "-q", "origin")
    for args in (("publish", "--repo", str(repo), "--all"), ("rollout", "--repo", str(repo))):
        done = cli(engine, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    client = registry.client()
    old = client.resolve(unique_repo, f"{APP}-latest")
    assert client.resolve(unique_repo, f"{APP}-staging") == old

    pending = json.loads(cli(engine, "stale", "--repo", str(repo), "--channel", "latest", "-o", "json").stdout)
    updates = {u["name"]: u for u in pending["images"][0]["packages"]["updates"]}
    assert updates and any(u["security"] for u in updates.values())  # the base has fixes to get

    images = repo / "manifests/images.yml"
    images.write_text(images.read_text().replace(f"  - tagBase: {APP}\n", f"  - tagBase: {APP}\n    osUpgrade: true\n"))
    run_git(repo, "commit", "-qam", f"{APP}: osUpgrade")
    run_git(repo, "push", "-q", "origin", "main")
    done = cli(engine, "publish", "--repo", str(repo), "--images", APP)
    assert done.returncode == 0, done.stderr
    new = client.resolve(unique_repo, f"{APP}-staging")
    assert new != old and client.resolve(unique_repo, f"{APP}-latest") == old
    client.close()
    name = f"{registry.host}/{unique_repo}"
    return {"repo": repo, "old": old, "new": new, "updates": updates,
            "before": installed(engine, f"{name}@{old}"), "after": installed(engine, f"{name}@{new}")}


def test_diff_and_page_list_the_upgraded_packages(engine, upgraded, browser, tmp_path):
    repo, before, after, updates = upgraded["repo"], upgraded["before"], upgraded["after"], upgraded["updates"]
    changed = {n for n in {*before, *after} if before.get(n) != after.get(n)}
    assert changed and set(updates) <= changed  # the upgrade moved every pending package (dpkg says so)

    done = cli(engine, "status", "--repo", str(repo), "--diff", APP, "-o", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["latest"], data["staging"]) == (upgraded["old"], upgraded["new"])
    packages = {p["name"]: p for p in data["packages"]}
    assert set(packages) == changed, data["packages_note"]
    for name, p in packages.items():  # versions as installed in each image
        assert (p["latest"], p["staging"]) == (before.get(name), after.get(name))
        assert p["security"] is (name in updates and updates[name]["security"])
        if name in updates:  # what -latest's check said was pending is what -staging has
            assert p["staging"] == updates[name]["available"]
    security = sorted(n for n, p in packages.items() if p["security"])
    assert security and "Debian GNU/Linux 12" in data["packages_note"]

    table = cli(engine, "status", "--repo", str(repo), "--diff", APP)
    assert table.returncode == 0, table.stderr
    lines = {line.split()[0]: line for line in table.stdout.splitlines() if line.split()}
    for name in security:
        assert before[name] in lines[name] and after[name] in lines[name] and "security" in lines[name]

    skipped = json.loads(cli(engine, "status", "--repo", str(repo), "--diff", APP, "--no-packages", "-o",
                             "json").stdout)
    assert skipped["packages"] is None and skipped["packages_note"].startswith("not read")

    page = tmp_path / "status.html"
    done = cli(engine, "status", "--repo", str(repo), "--packages", "--html", str(page), "-o", "json")
    assert done.returncode == 0, done.stderr
    fleet = json.loads(done.stdout)
    assert fleet["packages_checked"] is True
    assert {p["name"] for p in fleet["images"][0]["changes"]["packages"]} == changed
    plain = tmp_path / "plain.html"
    assert cli(engine, "status", "--repo", str(repo), "--html", str(plain)).returncode == 0

    browser.get(Path(page).as_uri())
    toggle = browser.find_element(By.CSS_SELECTOR, f"tr.image-row[data-image='{APP}'] button.toggle")
    toggle.send_keys(Keys.ENTER)
    detail = browser.find_element(By.ID, toggle.get_attribute("aria-controls"))
    assert detail.is_displayed()
    rows = detail.find_elements(By.CSS_SELECTOR, "table.packages tbody tr")
    shown = {r.get_attribute("data-package"): [c.text for c in r.find_elements(By.CSS_SELECTOR, "th, td")]
             for r in rows}
    assert set(shown) == changed
    assert [r.get_attribute("data-package") for r in rows][:len(security)] == security  # security fixes first
    for name in security:
        cells = shown[name]
        assert cells[0] == name and cells[3] == "security"
        assert [c.get_attribute("title") for c in detail.find_elements(
            By.CSS_SELECTOR, f'table.packages tr[data-package="{name}"] td code')] == [before[name], after[name]]
    caption = detail.find_element(By.CSS_SELECTOR, "table.packages caption").text
    assert caption == f"{len(changed)} OS packages change version, {len(security)} with a security fix"
    browser.get(Path(plain).as_uri())
    assert "OS package lists not read" in browser.find_element(By.CSS_SELECTOR, "p.totals").text
