"""The status page in a browser at fleet size: 250 images mixing held, stale, pending, current (and a few eol
and unpublished), 20 tags each, a few shared indexes. Renders the page, opens it from disk in headless Debian
chromium and times, inside the page (performance.now()), a filter typed into the box, a summary-box state
filter, and sorts by name and by state. Called by bench_status.py; alone:

    .venv/bin/python -m tests.bench.status_page [--images 250]

Timings on a shared machine are noisy: the printed ratios (each interaction against the page's own load)
are what to compare between runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from lifecycle.status.model import (STATES, ChannelState, FleetStatus, ImageStatus, RevertCommit, Rollout,
                                    SharedChild, SharedTagStatus)
from lifecycle.status.next_step import next_step
from lifecycle.status.render_html import render_page

MIX = ("held", "stale", "stale", "pending", "current", "current", "current", "held", "stale", "pending",
       "eol", "unpublished")
BASE = "reg.example/bench-base/core:3.0"


def _digest(n: int) -> str:
    return f"sha256:{n:064x}"


def mixed_fleet(n: int = 250, tags: int = 20) -> FleetStatus:
    now = dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc)
    images = []
    for i in range(n):
        state = MIX[i % len(MIX)]
        tagbase = f"distro{i % 10}-chain{i}-amd64"
        built = (now - dt.timedelta(days=i % 40)).isoformat().replace("+00:00", "Z")
        reasons = ([f"base {BASE} changed ({_digest(i)[:19]} -> {_digest(i + 1)[:19]})"] if state == "stale" else [])
        latest = ChannelState(f"{tagbase}-latest", None if state == "unpublished" else _digest(2 * i), built,
                              i % 40, "stale" if reasons else "current", reasons)
        staging = ChannelState(f"{tagbase}-staging", _digest(2 * i + (1 if state == "pending" else 0)), built,
                               i % 40, "current")
        tag_rows = [{"tag": f"{tagbase}-2026{j:04d}-{i:07x}", "digest": _digest(2 * i), "kind": "immutable",
                     "built": built, "cleanup": "keep" if j < 3 else "delete"} for j in range(tags)]
        image = ImageStatus(
            tagbase=tagbase, state=state, platform="linux/amd64", folder=f"src/{tagbase}", owners=["bench"],
            eol="2026-01-01" if state == "eol" else None, eol_passed=state == "eol", staging=staging, latest=latest,
            main_definition=_digest(3 * i), production_definition=_digest(3 * i + (state == "pending")),
            in_sync=state != "pending",
            hold="reverted on production since it was last rolled out; main has not changed it since"
            if state == "held" else None,
            lkg_digest=_digest(2 * i), lkg_tag=tag_rows[0]["tag"], lkg_reason=None, labels={"bench": "1"},
            tags=tag_rows, consumers={"latest": i % 3}, references=[],
            cleanup_candidates=[t["tag"] for t in tag_rows[3:]],
            cleanup_deletes=[t["tag"] for t in tag_rows[3:] if t["cleanup"] == "delete"],
            revert=RevertCommit("f" * 40, "Ops Person", "ops@example", built, "Revert x") if state == "held" else None)
        image.next_step = next_step(image)
        images.append(image)
    shared = [SharedTagStatus(f"shared{i}", "index", [images[i].tagbase, images[i + 1].tagbase], images[i].state,
                              _digest(9000 + i), _digest(9100 + i),
                              latest_children=[SharedChild("linux/amd64", images[i].latest.digest or "", images[i].tagbase)])
              for i in range(0, 20, 2)]
    rollouts = [Rollout(f"{r:040x}", built, f"Roll out {r}", "promoted", promoted=[i.tagbase for i in images[:30]])
                for r in range(12)]
    return FleetStatus(now.isoformat().replace("+00:00", "Z"), "reg.example", "bench/prereqs", "a" * 40, "b" * 40,
                       "c" * 40, images, rollouts, None, {"GET": 1}, shared=shared)


TIMED = """
var done = arguments[arguments.length - 1];
function t(f) { var s = performance.now(); f(); document.body.offsetHeight; return performance.now() - s; }
var box = document.getElementById("filter");
var out = {};
out.filter = t(function () { box.value = "chain1"; box.dispatchEvent(new Event("input")); });
out.filterShown = document.querySelectorAll("#fleet tr.image-row:not([hidden])").length;
out.clear = t(function () { box.value = ""; box.dispatchEvent(new Event("input")); });
var held = document.querySelector("button[data-state-filter=held]");
out.stateFilter = t(function () { held.click(); });
out.stateShown = document.querySelectorAll("#fleet tr.image-row:not([hidden])").length;
held.click();
var heads = document.querySelectorAll("#fleet thead button");
out.sortName = t(function () { heads[0].click(); });
out.sortState = t(function () { heads[1].click(); });
done(out);
"""


def browser_timings(page: Path) -> dict[str, float]:
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # never let selenium download a browser or driver
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.set_script_timeout(120)
        started = time.perf_counter()
        driver.get(page.as_uri())
        load = time.perf_counter() - started
        timings = driver.execute_async_script(TIMED)
        timings["load"] = load * 1000
        return timings
    finally:
        driver.quit()


def run(n: int) -> None:
    fleet = mixed_fleet(n)
    started = time.perf_counter()
    html = render_page(fleet)
    render = time.perf_counter() - started
    counts = {s: c for s, c in fleet.counts().items() if c}
    with tempfile.TemporaryDirectory(prefix="bench-status-page-") as tmp:
        page = Path(tmp) / "status.html"
        page.write_text(html, encoding="utf-8")
        b = browser_timings(page)
    assert b["stateShown"] == counts["held"], b  # the timings are of a filter that worked
    print(f"\n== the page in a browser ({n} images, states {counts}, {sum(len(i.tags) for i in fleet.images)} tags)")
    print(f"render               {render * 1000:.0f} ms ({len(html) / 1e6:.2f} MB, {len(html) // n} bytes per image)")
    print(f"load (open file)     {b['load']:.0f} ms")
    for key, what in (("filter", f"filter 'chain1' ({b['filterShown']:.0f} shown)"), ("clear", "clear the filter"),
                      ("stateFilter", f"summary box 'held' ({b['stateShown']:.0f} shown)"),
                      ("sortName", "sort by name (natural)"), ("sortState", "sort by state")):
        print(f"{what:<36} {b[key]:7.1f} ms  ({b[key] / b['load']:.3f}x the load)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=250)
    run(parser.parse_args().images)


if __name__ == "__main__":
    main()
