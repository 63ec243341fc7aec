"""The status page's inline CSS and script (render_html.py puts them into the one file)."""

CSS = """
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--head:#f6f8fa;
--held:#8250df;--eol:#a40e26;--unpublished:#6e7781;--stale:#bc4c00;--pending:#0969da;--retiring:#9a6700;--current:#1a7f37}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
background:var(--bg);margin:0;padding:1rem 1.5rem}h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;
margin:1.4rem 0 .5rem}h3{margin:.2rem 0 .6rem}h4{margin:.8rem 0 .3rem}.meta,.muted,.totals{color:var(--muted)}
code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
table.packages{width:auto;margin:.3rem 0}table.packages tr.security th{color:var(--eol)}
.id{display:inline-block;max-width:11rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom}
.id:focus{max-width:none;overflow:visible;background:var(--head);outline:2px solid var(--pending)}
.detail .id{max-width:40rem}.copy{font:11px inherit;margin-left:.3rem;padding:0 .3rem;cursor:pointer}
.zero{opacity:.55}.step{white-space:normal;min-width:14rem}
.summary{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0;margin:0}
.summary button{font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-left:6px solid;border-radius:6px;padding:.4rem .8rem;min-width:8rem;cursor:pointer;text-align:left}
.summary button[aria-pressed=true]{outline:3px solid currentColor;font-weight:600}
.summary .count{font-size:1.4rem;font-weight:600}
.state-held{border-color:var(--held)!important;color:var(--held)}.state-eol{border-color:var(--eol)!important;color:var(--eol)}
.state-unpublished{border-color:var(--unpublished)!important;color:var(--unpublished)}
.state-stale{border-color:var(--stale)!important;color:var(--stale)}.state-pending{border-color:var(--pending)!important;color:var(--pending)}
.state-current{border-color:var(--current)!important;color:var(--current)}
.state-retiring{border-color:var(--retiring)!important;color:var(--retiring)}
.badge{display:inline-block;border:1px solid;border-radius:1rem;padding:0 .5rem;font-weight:600;white-space:nowrap}
.kind-held{color:var(--held)}.kind-reverted{color:var(--eol)}.kind-promoted{color:var(--current)}
.controls{display:flex;gap:.6rem;align-items:center;margin:.3rem 0 .6rem}
#filter{font:inherit;padding:.3rem .5rem;min-width:20rem;border:1px solid var(--muted);border-radius:4px}
table{border-collapse:collapse;width:100%}caption{text-align:left;color:var(--muted);padding:.2rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--head);position:sticky;top:0;white-space:nowrap}tbody tr{scroll-margin-top:3rem}
.nowrap{white-space:nowrap}
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
--held:#bc8cff;--eol:#ff7b72;--unpublished:#9198a1;--stale:#ffa657;--pending:#58a6ff;--retiring:#d29922;--current:#3fb950}
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
  var states = document.querySelectorAll("button[data-state-filter]");
  function wanted() {
    var out = [];
    Array.prototype.forEach.call(states, function (b) {
      if (b.getAttribute("aria-pressed") === "true") { out.push(b.getAttribute("data-state-filter")); }
    });
    return out;
  }
  function applyFilter() {
    var terms = filter.value.toLowerCase().split(/\\s+/).filter(Boolean), shown = 0, all = pairs();
    var only = wanted();
    all.forEach(function (pair) {
      var text = pair[0].getAttribute("data-search") || "";
      var match = terms.every(function (t) { return text.indexOf(t) >= 0; }) &&
        (!only.length || only.indexOf(pair[0].getAttribute("data-state")) >= 0);
      pair[0].hidden = !match;
      showDetail(pair);
      if (match) { shown++; }
    });
    count.textContent = shown + " of " + all.length + " images";
  }
  filter.addEventListener("input", applyFilter);
  Array.prototype.forEach.call(states, function (b) {
    b.addEventListener("click", function () {
      b.setAttribute("aria-pressed", b.getAttribute("aria-pressed") === "true" ? "false" : "true");
      applyFilter();
    });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy") : null;
    if (!button) { return; }
    var text = button.getAttribute("data-copy");
    var done = function () { button.textContent = "copied"; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  });
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (err) { /* the value stays in the title */ }
    document.body.removeChild(area);
  }
  // numbers inside names compare as numbers: chain9 before chain49
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  function key(row, col) {
    var cell = row.cells[col];
    var value = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    var number = Number(value);
    return value !== "" && !isNaN(number) ? number : value;
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
        var c = typeof x === "string" ? collator.compare(x, y) : (x < y ? -1 : x > y ? 1 : 0);
        return c === 0 ? a[1] - b[1] : (ascending ? c : -c);
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
