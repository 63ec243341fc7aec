"""The status page: one self-contained HTML file (inline CSS and JS, no fonts, scripts or styles from
anywhere), readable opened from disk or as a pipeline artifact.

Everything is rendered here in Python as real table markup (so the page reads without JavaScript and
every value goes through html.escape); the small script only filters, sorts and opens the detail rows.
The whole status is also embedded as JSON in <script type="application/json"> for tools, with <, > and &
escaped so no value can close the element.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any, Iterable

from lifecycle.output import short_digest
from lifecycle.status.model import STATE_TEXT, STATES, FleetStatus, ImageStatus
from lifecycle.status.render_text import ICONS

MAX_TAGS = 60  # per detail panel; the JSON has them all

COLUMNS = ("Image", "State", "Staging", "Latest", "Prod = main", "Hold", "LKG", "Stale reasons", "End of life",
           "Consumers", "Cleanup")


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def json_for_script(data: Any) -> str:
    """JSON that cannot end its <script> element or start a comment inside it."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                       ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def safe_url(url: str | None) -> str | None:
    """Only http(s) links: a template or usage file must not smuggle in javascript: URLs."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def badge(state: str) -> str:
    return (f'<span class="badge state-{e(state)}" title="{e(STATE_TEXT.get(state, state))}">'
            f'<span class="icon" aria-hidden="true">{ICONS.get(state, "?")}</span> {e(state)}</span>')


def _td(text: str, sort: Any = None, cls: str = "") -> str:
    attrs = (f' data-sort="{e(sort)}"' if sort is not None else "") + (f' class="{cls}"' if cls else "")
    return f"<td{attrs}>{text}</td>"


def _channel_cell(digest: str | None, age: int | None) -> str:
    if not digest:
        return '<span class="muted">not published</span>'
    age_text = f' <span class="age">{age}d</span>' if age is not None else ""
    return f'<code title="{e(digest)}">{e(short_digest(digest))}</code>{age_text}'


def _cleanup_cell(image: ImageStatus, checked: bool) -> str:
    if not checked:
        return '<span class="muted">not checked</span>'
    if not image.cleanup_candidates:
        return ""
    return (f'<span title="{len(image.cleanup_deletes)} tag(s) the next cleanup deletes, of '
            f'{len(image.cleanup_candidates)} old enough to go">{len(image.cleanup_deletes)} of '
            f'{len(image.cleanup_candidates)}</span>')


def _search_text(image: ImageStatus) -> str:
    parts = [image.tagbase, image.state, image.hold, image.lkg_tag, image.lkg_reason, image.eol, image.platform,
             " ".join(image.owners), " ".join(image.stale_reasons), " ".join(image.consumers),
             image.staging.digest, image.latest.digest]
    return " ".join(p for p in parts if p).lower()


def image_row(index: int, image: ImageStatus, cleanup_checked: bool = True) -> str:
    detail = f"detail-{index}"
    consumers = ", ".join(f"{e(k)} {v}" for k, v in image.consumers.items())
    total_consumers = sum(image.consumers.values())
    stale = "<br>".join(e(r) for r in image.stale_reasons)
    cells = [
        _td(badge(image.state), STATES.index(image.state) if image.state in STATES else 99),
        _td(_channel_cell(image.staging.digest, image.staging.age_days),
            image.staging.age_days if image.staging.age_days is not None else 1_000_000),
        _td(_channel_cell(image.latest.digest, image.latest.age_days),
            image.latest.age_days if image.latest.age_days is not None else 1_000_000),
        _td("yes" if image.in_sync else "<strong>no</strong>", 1 if image.in_sync else 0),
        _td(e(image.hold) if image.hold else "", cls="hold" if image.hold else ""),
        _td(f'<code title="{e(image.lkg_digest)}">{e(image.lkg_tag)}</code>' if image.lkg_tag
            else f'<span class="muted">{e(image.lkg_reason)}</span>'),
        _td(stale, len(image.stale_reasons)),
        _td(e(image.eol) + (" (passed)" if image.eol_passed else ""), image.eol or "9999"),
        _td(consumers, total_consumers),
        _td(_cleanup_cell(image, cleanup_checked), len(image.cleanup_deletes)),
    ]
    head = (f'<tr class="image-row" data-image="{e(image.tagbase)}" data-state="{e(image.state)}" '
            f'data-search="{e(_search_text(image))}">'
            f'<th scope="row" data-sort="{e(image.tagbase)}"><button type="button" class="toggle" '
            f'aria-expanded="false" aria-controls="{detail}">{e(image.tagbase)}</button></th>{"".join(cells)}</tr>')
    return head + (f'<tr class="detail-row" id="{detail}" data-image="{e(image.tagbase)}">'
                   f'<td colspan="{len(COLUMNS)}">{detail_panel(image)}</td></tr>')


def _table(rows: Iterable[Iterable[str]], headers: Iterable[str], caption: str, cls: str = "") -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{e(caption)}: none</p>'
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    return (f'<table class="inner {cls}"><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def detail_panel(image: ImageStatus) -> str:
    facts = [
        ("State", badge(image.state) + f" {e(STATE_TEXT.get(image.state, ''))}"),
        ("Platform", e(image.platform)), ("Folder", f"<code>{e(image.folder)}</code>"),
        ("Owners", e(", ".join(image.owners))),
        ("End of life", e(image.eol or "none") + (" (passed)" if image.eol_passed else "")),
        ("Definition on main", f"<code>{e(image.main_definition)}</code>"),
        ("Definition on production", f"<code>{e(image.production_definition)}</code>"),
        ("LKG", (f"<code>{e(image.lkg_tag)}</code> <code>{e(image.lkg_digest)}</code>" if image.lkg_digest
                 else e(image.lkg_reason))),
    ]
    for channel in (image.staging, image.latest):
        value = (f"<code>{e(channel.digest)}</code> built {e(channel.created)} ({channel.age_days} days ago)"
                 if channel.digest else "not published")
        facts.append((channel.tag, value + f" &middot; {e(channel.stale)}"))
    dl = "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in facts)
    hold = (f'<p class="hold-reason" role="note"><span aria-hidden="true">{ICONS["held"]}</span> '
            f"<strong>Held:</strong> <span class=\"reason\">{e(image.hold)}</span></p>" if image.hold else "")
    stale = ("<h4>Stale reasons</h4><ul class=\"stale-reasons\">"
             + "".join(f"<li>{e(r)}</li>" for r in image.stale_reasons) + "</ul>") if image.stale_reasons else ""
    tags = _table(([f"<code>{e(t['tag'])}</code>", f"<code title=\"{e(t['digest'])}\">{e(short_digest(t['digest']))}"
                    f"</code>", e(t["kind"]), e(t.get("built")), e(t.get("cleanup"))]
                   for t in image.tags[:MAX_TAGS]), ("tag", "digest", "kind", "built", "cleanup"),
                  f"Tags ({len(image.tags)}{', first ' + str(MAX_TAGS) + ' shown' if len(image.tags) > MAX_TAGS else ''})")
    labels = _table(([f"<code>{e(k)}</code>", f"<code>{e(v)}</code>"] for k, v in image.labels.items()),
                    ("label", "value"), "Labels of the served digest")
    consumers = _table(([e(c.repository), _where(c.file, c.line, c.url), e(c.klass), f"<code>{e(c.reference)}</code>"]
                        for c in image.references), ("repository", "file:line", "class", "reference"), "Consumers")
    return (f'<div class="detail" role="region" aria-label="{e(image.tagbase)} details">'
            f"<h3>{e(image.tagbase)}</h3>{hold}<dl>{dl}</dl>{stale}{consumers}{tags}{labels}</div>")


def _where(file: str, line: int | None, url: str | None) -> str:
    text = f"{file}:{line}" if line is not None else file
    link = safe_url(url)
    return f'<a href="{e(link)}">{e(text)}</a>' if link else e(text)


def rollouts_table(status: FleetStatus) -> str:
    rows = []
    for r in status.rollouts:
        icon = {"promoted": "↑", "held": ICONS["held"], "reverted": "↩"}.get(r.kind, "")
        rows.append([f'<span class="badge kind-{e(r.kind)}"><span aria-hidden="true">{icon}</span> {e(r.kind)}</span>',
                     f"<code>{e(r.sha[:10])}</code>", e(r.time), e(", ".join(r.promoted)), e(", ".join(r.held)),
                     e(r.subject)])
    return _table(rows, ("kind", "commit", "time", "promoted", "held", "subject"),
                  f"Last {len(status.rollouts)} rollouts and reverts on production (first-parent history)", "rollouts")


def floating_holds_section(status: FleetStatus) -> str:
    if not status.floating_holds:
        return ""
    rows = [[f"<code>{e(h.tag)}</code>", e(h.serving or ""), e(h.wanted or ""), e(h.reason), e(h.until or "")]
            for h in status.floating_holds]
    table = _table(rows, ("floating tag", "serving", "wanted", "reason", "possible from"),
                   "Floating tags the next rollout keeps on production's target", "floating-holds")
    return ('<section aria-labelledby="floating-heading"><h2 id="floating-heading">Floating tags held</h2>'
            f"{table}</section>")


def summary_strip(status: FleetStatus) -> str:
    counts = status.counts()
    items = "".join(f'<li class="state-{s}"><span class="icon" aria-hidden="true">{ICONS[s]}</span> '
                    f'<span class="count">{counts[s]}</span> <span class="label">{e(s)}</span></li>' for s in STATES)
    totals = status.totals()
    cleanup = (f'{totals["cleanupDeletes"]} tags the next cleanup deletes ({totals["cleanupCandidates"]} candidates)'
               if status.cleanup_checked else "cleanup not checked")
    return (f'<ul class="summary" aria-label="Images by state">{items}</ul>'
            f'<p class="totals">{totals["images"]} images, {totals["tags"]} tags, {totals["consumers"]} consumer '
            f'references, {cleanup}; {totals["requests"]} registry requests.</p>')


def render_page(status: FleetStatus) -> str:
    head = "".join(f'<th scope="col" aria-sort="none"><button type="button" data-col="{i}">{e(c)}'
                   f'<span class="arrow" aria-hidden="true"></span></button></th>' for i, c in enumerate(COLUMNS))
    rows = "".join(image_row(i, image, status.cleanup_checked) for i, image in enumerate(status.images))
    title = f"Image status: {status.registry}/{status.repository}"
    return PAGE.format(
        title=e(title), css=CSS, js=JS, summary=summary_strip(status), head=head, rows=rows,
        count=len(status.images), floating=floating_holds_section(status), rollouts=rollouts_table(status), data=json_for_script(status.to_dict()),
        meta=(f"main <code>{e(status.main[:10])}</code> &middot; production <code>{e(status.production[:10])}</code>"
              f" &middot; last promoted <code>{e((status.promoted or 'none')[:10])}</code> &middot; as of "
              f"{e(status.generated)}" + (f" &middot; consumers from {e(status.usage_file)}" if status.usage_file
                                          else "")))


def write_page(status: FleetStatus, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_page(status), encoding="utf-8")
    tmp.replace(path)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><h1>{title}</h1><p class="meta">{meta}</p></header>
<main>
<section aria-labelledby="summary-heading"><h2 id="summary-heading">Summary</h2>{summary}</section>
<section aria-labelledby="fleet-heading"><h2 id="fleet-heading">Fleet</h2>
<div class="controls"><label for="filter">Filter images</label>
<input id="filter" type="search" autocomplete="off" aria-controls="fleet" aria-describedby="filter-count"
 placeholder="name, state, reason, owner&hellip;">
<span id="filter-count" role="status" aria-live="polite">{count} of {count} images</span></div>
<table id="fleet"><caption>One row per image; select an image's name for its details. Column buttons sort.</caption>
<thead><tr>{head}</tr></thead>
<tbody>{rows}</tbody></table></section>
{floating}<section aria-labelledby="rollouts-heading"><h2 id="rollouts-heading">Recent rollouts</h2>{rollouts}</section>
</main>
<script type="application/json" id="status-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""

CSS = """
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--head:#f6f8fa;
--held:#8250df;--eol:#a40e26;--unpublished:#6e7781;--stale:#bc4c00;--pending:#0969da;--current:#1a7f37}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
background:var(--bg);margin:0;padding:1rem 1.5rem}h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;
margin:1.4rem 0 .5rem}h3{margin:.2rem 0 .6rem}h4{margin:.8rem 0 .3rem}.meta,.muted,.totals{color:var(--muted)}
code{font:12px ui-monospace,"DejaVu Sans Mono",monospace;word-break:break-all}
.summary{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0;margin:0}
.summary li{border:1px solid var(--line);border-left:6px solid;border-radius:6px;padding:.4rem .8rem;min-width:8rem}
.summary .count{font-size:1.4rem;font-weight:600}
.state-held{border-color:var(--held)!important;color:var(--held)}.state-eol{border-color:var(--eol)!important;color:var(--eol)}
.state-unpublished{border-color:var(--unpublished)!important;color:var(--unpublished)}
.state-stale{border-color:var(--stale)!important;color:var(--stale)}.state-pending{border-color:var(--pending)!important;color:var(--pending)}
.state-current{border-color:var(--current)!important;color:var(--current)}
.badge{display:inline-block;border:1px solid;border-radius:1rem;padding:0 .5rem;font-weight:600;white-space:nowrap}
.kind-held{color:var(--held)}.kind-reverted{color:var(--eol)}.kind-promoted{color:var(--current)}
.controls{display:flex;gap:.6rem;align-items:center;margin:.3rem 0 .6rem}
#filter{font:inherit;padding:.3rem .5rem;min-width:20rem;border:1px solid var(--muted);border-radius:4px}
table{border-collapse:collapse;width:100%}caption{text-align:left;color:var(--muted);padding:.2rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--head);position:sticky;top:0}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit;text-align:left}
th[aria-sort=ascending] .arrow::after{content:" \\25B2"}th[aria-sort=descending] .arrow::after{content:" \\25BC"}
button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid var(--pending);outline-offset:2px}
.toggle{font:inherit;font-weight:600;background:none;border:0;padding:0;color:var(--pending);cursor:pointer;
text-decoration:underline;text-align:left}
.toggle[aria-expanded=true]::before{content:"\\25BE "}.toggle[aria-expanded=false]::before{content:"\\25B8 "}
td.hold{color:var(--held);font-weight:600}
.detail-row>td{background:#fbfbfc;padding:.8rem 1.2rem}
.detail dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.3rem 0}
.detail dt{font-weight:600}.detail dd{margin:0}
.hold-reason{border-left:6px solid var(--held);background:#f5f0ff;padding:.5rem .8rem;margin:.3rem 0}
table.inner{margin:.6rem 0;width:auto;min-width:50%}table.inner th{background:var(--head)}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--bg:#0d1117;--head:#161b22;
--held:#bc8cff;--eol:#ff7b72;--unpublished:#9198a1;--stale:#ffa657;--pending:#58a6ff;--current:#3fb950}
.detail-row>td{background:#11161d}.hold-reason{background:#1f1530}}
"""

JS = """
(function () {
  "use strict";
  var table = document.getElementById("fleet");
  var tbody = table.tBodies[0];
  var filter = document.getElementById("filter");
  var count = document.getElementById("filter-count");
  function pairs() {
    var out = [], rows = tbody.rows;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].classList.contains("image-row")) {
        var next = rows[i + 1];
        out.push([rows[i], next && next.classList.contains("detail-row") ? next : null]);
      }
    }
    return out;
  }
  function toggleButton(row) { return row.querySelector("button.toggle"); }
  function showDetail(pair) {
    if (!pair[1]) { return; }
    pair[1].hidden = pair[0].hidden || toggleButton(pair[0]).getAttribute("aria-expanded") !== "true";
  }
  pairs().forEach(function (pair) {
    var button = toggleButton(pair[0]);
    showDetail(pair);
    button.addEventListener("click", function () {
      button.setAttribute("aria-expanded", button.getAttribute("aria-expanded") === "true" ? "false" : "true");
      showDetail(pair);
    });
  });
  function applyFilter() {
    var terms = filter.value.toLowerCase().split(/\\s+/).filter(Boolean), shown = 0, all = pairs();
    all.forEach(function (pair) {
      var text = pair[0].getAttribute("data-search") || "";
      var match = terms.every(function (t) { return text.indexOf(t) >= 0; });
      pair[0].hidden = !match;
      showDetail(pair);
      if (match) { shown++; }
    });
    count.textContent = shown + " of " + all.length + " images";
  }
  filter.addEventListener("input", applyFilter);
  function key(row, col) {
    var cell = row.cells[col];
    var value = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    var number = Number(value);
    return value !== "" && !isNaN(number) ? number : value.toLowerCase();
  }
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th, col) {
    var button = th.querySelector("button");
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(headers, function (other) { other.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var sorted = pairs().map(function (pair, index) { return [key(pair[0], col), index, pair]; });
      sorted.sort(function (a, b) {
        var x = a[0], y = b[0];
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        var order = x < y ? -1 : x > y ? 1 : a[1] - b[1];
        return ascending ? order : (x === y ? a[1] - b[1] : -order);
      });
      sorted.forEach(function (item) {
        tbody.appendChild(item[2][0]);
        if (item[2][1]) { tbody.appendChild(item[2][1]); }
      });
    });
  });
  applyFilter();
}());
"""
