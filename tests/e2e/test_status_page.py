"""The status page in a real headless browser (Debian's chromium + chromium-driver, driven by selenium):
rendered from a real cycle's state (tests/fixtures/status_state.py), opened from disk, and checked
through the DOM: the filter narrows the rows, a sort reorders them, the held image shows its reason.
Screenshots of the whole page and of one detail panel go to the test's folder and to out/status/."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lifecycle.cleanup.rules import load_usage
from lifecycle.registry.pool import RegistryPool
from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO, TAGBASES
from lifecycle.status.collect import collect_status
from lifecycle.status.render_html import write_page
from tests.fixtures.browser import OUT, full_height, save, visible_images
from tests.fixtures.status_state import LINK, SYNTHETIC_TIME, fetched

pytestmark = pytest.mark.e2e

@pytest.fixture
def page(status_state, origin, tmp_path) -> Path:
    state = status_state
    with RegistryPool() as pool:
        fleet = collect_status(fetched(origin), pool, usage=load_usage(state["usage"]),
                               now=SYNTHETIC_TIME + dt.timedelta(days=1), link_template=LINK)
    path = tmp_path / "status.html"
    write_page(fleet, path)
    return path


def test_page_in_a_headless_browser(browser, page, status_state, tmp_path):
    browser.get(page.as_uri())
    assert browser.title.startswith("Image status: ")
    rows = visible_images(browser)
    assert rows == list(TAGBASES)  # build order; detail rows hidden until opened
    assert not any(d.is_displayed() for d in browser.find_elements(By.CSS_SELECTOR, "tr.detail-row"))
    counts = {li.find_element(By.CLASS_NAME, "label").text: int(li.find_element(By.CLASS_NAME, "count").text)
              for li in browser.find_elements(By.CSS_SELECTOR, "ul.summary li")}
    muted = {b.get_attribute("data-state-filter") for b in browser.find_elements(By.CSS_SELECTOR, ".summary .zero")}
    assert muted == {s for s, n in counts.items() if n == 0}
    assert counts == {"held": 1, "eol": 0, "unpublished": 0, "stale": len(TAGBASES) - 1, "pending": 0,
                      "retiring": 0, "current": 0}
    # the state reads without colour: each badge carries its name as text
    badges = {r.get_attribute("data-image"): r.find_element(By.CSS_SELECTOR, "td .badge").text
              for r in browser.find_elements(By.CSS_SELECTOR, "#fleet tr.image-row")}
    assert badges[SOLO].endswith("held") and badges[PARENT].endswith("stale")
    save(browser, tmp_path / "status-page.png", full=True)
    browser.set_window_size(1400, 900)

    # no identifier breaks inside itself: each digest/tag/LKG cell's code renders as one line
    heights = browser.execute_script(
        "return Array.from(document.querySelectorAll('#fleet tr.image-row code.id')).map(function (c) {"
        " var r = c.getBoundingClientRect(), s = getComputedStyle(c);"
        " return [c.textContent, r.height, parseFloat(s.fontSize), c.getClientRects().length]; })")
    assert len(heights) >= 2 * len(TAGBASES)
    for text, height, font, boxes in heights:
        assert boxes == 1 and height < 2 * font, (text, height, font)
    name_heights = browser.execute_script(
        "return Array.from(document.querySelectorAll('#fleet th[scope=col]')).map(function (t) {"
        " return t.getBoundingClientRect().height; })")
    assert max(name_heights) < 2.2 * 14 + 12, name_heights  # compact headers: one line each

    # the summary boxes filter by state, and a second press lifts the filter
    held_box = browser.find_element(By.CSS_SELECTOR, "button[data-state-filter='held']")
    held_box.click()
    assert held_box.get_attribute("aria-pressed") == "true" and visible_images(browser) == [SOLO]
    browser.find_element(By.CSS_SELECTOR, "button[data-state-filter='stale']").click()  # held or stale
    assert sorted(visible_images(browser)) == sorted(TAGBASES)
    held_box.click()
    assert set(visible_images(browser)) == set(TAGBASES) - {SOLO}
    browser.find_element(By.CSS_SELECTOR, "button[data-state-filter='stale']").click()
    assert len(visible_images(browser)) == len(TAGBASES)

    # the held row's next step names the revert commit, its author and date, and how to lift it
    revert = status_state["git"]["revert"]
    step = browser.find_element(By.CSS_SELECTOR, f"tr.image-row[data-image='{SOLO}'] td.step").text
    assert step.startswith(f"held: {revert[:10]} by ") and step.endswith(
        "; lifted by a new definition on main or reverting the revert"), step

    # filter, typed as a person would, narrows the rows (and the live count says so)
    box = browser.find_element(By.ID, "filter")
    box.send_keys("tools")
    assert visible_images(browser) == [CHILD]
    assert browser.find_element(By.ID, "filter-count").text == f"1 of {len(TAGBASES)} images"
    box.clear()
    box.send_keys("held")  # the state and the hold reason are searchable
    assert visible_images(browser) == [SOLO]
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    assert len(visible_images(browser)) == len(TAGBASES)

    # sort: the Image column's button, by keyboard; aria-sort follows
    header = browser.find_element(By.XPATH, "//table[@id='fleet']/thead/tr/th[1]")
    button = header.find_element(By.TAG_NAME, "button")
    button.send_keys(Keys.ENTER)
    assert header.get_attribute("aria-sort") == "ascending"
    assert visible_images(browser) == sorted(TAGBASES)
    button.send_keys(Keys.ENTER)
    assert header.get_attribute("aria-sort") == "descending"
    assert visible_images(browser) == sorted(TAGBASES, reverse=True)
    state_header = browser.find_element(By.XPATH, "//table[@id='fleet']/thead/tr/th[2]")
    state_header.find_element(By.TAG_NAME, "button").click()
    assert visible_images(browser)[0] == SOLO  # the most urgent state first
    assert header.get_attribute("aria-sort") == "none"

    # the held image's detail panel shows its reason
    row = browser.find_element(By.CSS_SELECTOR, f"tr.image-row[data-image='{SOLO}']")
    toggle = row.find_element(By.CSS_SELECTOR, "button.toggle")
    toggle.send_keys(Keys.ENTER)
    assert toggle.get_attribute("aria-expanded") == "true"
    detail = browser.find_element(By.ID, toggle.get_attribute("aria-controls"))
    assert detail.is_displayed()
    reason = detail.find_element(By.CSS_SELECTOR, ".hold-reason .reason").text
    assert reason.startswith("reverted on production since it was last rolled out")
    assert detail.find_element(By.CSS_SELECTOR, ".hold-reason .revert code").get_attribute("title") == revert
    history = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
               for tr in detail.find_elements(By.CSS_SELECTOR, "table.history tbody tr")]
    assert [h[:2] for h in history][:3] == [["held", status_state["git"]["merge3"][:10]],
                                        ["reverted", revert[:10]], ["promoted", status_state["git"]["merge2"][:10]]]
    links = {a.text: a.get_attribute("href") for a in detail.find_elements(By.CSS_SELECTOR, "a")}
    assert links["eng/ci.yml:12"] == "https://dev.example/product/blob/main/eng/ci.yml#L12"
    changes = detail.find_element(By.CSS_SELECTOR, ".changes").text
    assert changes.startswith("What changes for consumers\nHeld: the next rollout keeps -latest")
    assert status_state["git"]["c2"][:10] in changes and "solo v2" in changes
    full_height(browser)  # no scrolling: the sticky table header would cover the panel's top
    detail.screenshot(str(tmp_path / "status-detail.png"))
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "status-detail.png", OUT / "status-detail.png")
    # the rows still go together after another sort
    header.find_element(By.TAG_NAME, "button").click()
    order = [r.get_attribute("data-image") for r in browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")]
    assert order[order.index(SOLO) + 1] == SOLO  # the image row, then its detail row

    # the embedded data survives as JSON (what tools read)
    data = browser.execute_script("return JSON.parse(document.getElementById('status-data').textContent)")
    assert {i["tagbase"]: i["state"] for i in data["images"]}[SOLO] == "held"
    assert (tmp_path / "status-page.png").stat().st_size > 10_000


def test_names_sort_naturally(browser, tmp_path):
    """chain9 before chain10 before chain49: numbers in names compare as numbers, both directions."""
    from tests.unit.test_status_render import fleet, image

    status = fleet()
    names = ["chain49-amd64", "chain9-amd64", "chain10-amd64", "Chain2-amd64"]
    status.images = [image(n, "current") for n in names]
    path = tmp_path / "sorted.html"
    write_page(status, path)
    browser.get(path.as_uri())
    button = browser.find_element(By.XPATH, "//table[@id='fleet']/thead/tr/th[1]/button")
    button.click()
    assert visible_images(browser) == ["Chain2-amd64", "chain9-amd64", "chain10-amd64", "chain49-amd64"]
    button.click()
    assert visible_images(browser) == ["chain49-amd64", "chain10-amd64", "chain9-amd64", "Chain2-amd64"]


def test_shared_index_row_lists_its_children(browser, origin, client, tmp_path):
    """A multi-platform shared tag on the real registry: its row shows -latest's index with each child's
    platform and the member it is, and -staging's newer index after a publish not rolled out yet."""
    from lifecycle.build.manifest_index import publish_indexes
    from lifecycle.production.gitops import GitOps
    from lifecycle.production.rollout import rollout
    from tests.fixtures.gitops_origin import quiet

    arm, shared = "busybox-1.0-solo-arm64v8", "busybox-1.0-solo"
    catalog = origin.show(origin.initial, "manifests/images.yml")
    catalog = catalog.replace("images:\n", f"sharedTags:\n  {shared}: [{SOLO}, {arm}]\nimages:\n", 1)
    catalog += (f"  - tagBase: {arm}\n    dockerfile: src/busybox/1.0/solo/amd64\n"
                f"    platform: {{os: linux, architecture: arm64, variant: v8}}\n")
    c1 = origin.commit({"manifests/images.yml": catalog}, "solo for arm64 too")
    v1 = origin.publish_synthetic(client, c1)
    publish_indexes(origin.workspace(c1).catalog, client, "staging", {SOLO})
    rollout(GitOps(origin.agent), client, quiet())
    solo_df = "src/busybox/1.0/solo/amd64/Dockerfile"
    c2 = origin.commit({solo_df: origin.show(c1, solo_df).replace("solo v1", "solo v2")}, "solo v2")
    v2 = origin.publish_synthetic(client, c2)
    publish_indexes(origin.workspace(c2).catalog, client, "staging", {SOLO})

    with RegistryPool() as pool:
        fleet = collect_status(fetched(origin), pool, now=SYNTHETIC_TIME + dt.timedelta(days=1))
    row = next(r for r in fleet.shared if r.tag == shared)
    assert row.kind == "index" and row.latest == client.resolve(origin.repository, f"{shared}-latest")
    assert [(c.platform, c.digest, c.tagbase) for c in row.latest_children] == [
        ("linux/amd64", v1[SOLO], SOLO), ("linux/arm64/v8", v1[arm], arm)]
    assert [(c.digest, c.tagbase) for c in row.staging_children] == [(v2[SOLO], SOLO), (v2[arm], arm)]
    states = {i.tagbase: i.state for i in fleet.images}
    assert row.in_step and states[SOLO] == states[arm] == row.state == "stale"  # synthetic: no base labels
    path = tmp_path / "status.html"
    write_page(fleet, path)

    browser.get(path.as_uri())
    tr = browser.find_element(By.CSS_SELECTOR, f"#shared tr.shared-row[data-tag='{shared}']")
    latest = tr.find_elements(By.CSS_SELECTOR, "td")[4]
    children = [li.text for li in latest.find_elements(By.CSS_SELECTOR, "ul.children li")]
    assert len(children) == 2
    assert children[0].startswith("linux/amd64 sha256:") and children[0].endswith(f"→ {SOLO}")
    assert children[1].startswith("linux/arm64/v8 sha256:") and children[1].endswith(f"→ {arm}")
    assert tr.find_element(By.CSS_SELECTOR, "td .badge").text.endswith("stale")
    lines = browser.execute_script("return Array.from(arguments[0].querySelectorAll('code.id'))"
                                   ".map(function (c) { return c.getClientRects().length; })", tr)
    assert len(lines) == 7 and set(lines) == {1}  # the tag, two digests and four children, each on one line
    browser.execute_script("document.getElementById('shared').scrollIntoView()")
    tr.screenshot(str(tmp_path / "status-shared.png"))
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "status-shared.png", OUT / "status-shared.png")
