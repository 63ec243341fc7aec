"""The status page: one self-contained HTML file (inline CSS and JS, no fonts, scripts or styles from
anywhere), readable opened from disk or as a pipeline artifact.

Everything is rendered here in Python as real table markup (so the page reads without JavaScript and
every value goes through html.escape); the small script only filters, sorts and opens the detail rows.
The whole status is also embedded as JSON in <script type="application/json"> for tools, with <, > and &
escaped so no value can close the element.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

from lifecycle.output import short_digest
from lifecycle.status.model import STATE_TEXT, STATES, ChannelState, FleetStatus, ImageStatus, Rollout
from lifecycle.status.next_step import hold_step, short_reason
from lifecycle.status.page_assets import CSS, JS
from lifecycle.status.page_parts import badge, e, ident, relative
from lifecycle.status.render_changes import changes_block
from lifecycle.status.render_shared import shared_table
from lifecycle.status.render_text import ICONS

MAX_TAGS = 60  # per detail panel; the JSON has them all

COLUMNS = ("Image", "State", "Next step", "Staging", "Latest", "Prod=main", "LKG", "Stale", "EOL", "Consumers",
           "Cleanup")


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


def _td(text: str, sort: Any = None, cls: str = "") -> str:
    attrs = (f' data-sort="{e(sort)}"' if sort is not None else "") + (f' class="{cls}"' if cls else "")
    return f"<td{attrs}>{text}</td>"


def served_tag(image: ImageStatus, channel: ChannelState) -> str | None:
    """The immutable tag of the digest a channel serves (from the tag rows: known when cleanup was checked)."""
    return next((t["tag"] for t in image.tags if t.get("kind") == "immutable" and t.get("digest") == channel.digest
                 and channel.digest), None)


def _channel_cell(image: ImageStatus, channel: ChannelState) -> str:
    if not channel.digest:
        return '<span class="muted">not published</span>'
    tag = served_tag(image, channel)
    shown = ident(tag) if tag else ident(channel.digest, short_digest(channel.digest))
    return f"{shown} {relative(channel.created, channel.age_days)}"


def _cleanup_cell(image: ImageStatus, checked: bool) -> str:
    if not checked:
        return '<span class="muted">not checked</span>'
    if not image.cleanup_deletes:
        kept = len(image.cleanup_candidates)
        return (f'<span class="muted" title="{kept} old tag(s) kept by a rule; see the details">nothing to delete</span>'
                if kept else '<span class="muted">nothing to delete</span>')
    return (f'<span title="{e(", ".join(image.cleanup_deletes))}">{len(image.cleanup_deletes)} to delete</span>')


def _search_text(image: ImageStatus) -> str:
    parts = [image.tagbase, image.state, image.next_step, image.hold, image.lkg_tag, image.lkg_reason, image.eol, image.platform,
             " ".join(image.owners), " ".join(image.stale_reasons), " ".join(image.consumers),
             image.staging.digest, image.latest.digest, image.revert.sha if image.revert else None]
    return " ".join(p for p in parts if p).lower()


def image_row(index: int, image: ImageStatus, cleanup_checked: bool = True, rollouts: Iterable[Rollout] = ()) -> str:
    detail = f"detail-{index}"
    consumers = ", ".join(f"{e(k)} {v}" for k, v in image.consumers.items())
    total_consumers = sum(image.consumers.values())
    reasons = {}
    for reason in image.stale_reasons:
        channels, _, text = reason.partition(": ")
        reasons.setdefault(f"{channels}: {short_reason(text)}", []).append(reason)
    stale = "<br>".join(f'<span title="{e("; ".join(full))}">{e(short)}</span>' for short, full in reasons.items())
    cells = [
        _td(badge(image.state), STATES.index(image.state) if image.state in STATES else 99),
        _td(e(image.next_step), cls="step hold" if image.hold else "step"),
        _td(_channel_cell(image, image.staging),
            image.staging.age_days if image.staging.age_days is not None else 1_000_000, "nowrap"),
        _td(_channel_cell(image, image.latest),
            image.latest.age_days if image.latest.age_days is not None else 1_000_000, "nowrap"),
        _td("yes" if image.in_sync else "<strong>no</strong>", 1 if image.in_sync else 0),
        _td(ident(image.lkg_digest, image.lkg_tag) if image.lkg_tag
            else f'<span class="muted">{e(image.lkg_reason)}</span>', cls="nowrap"),
        _td(stale, len(image.stale_reasons)),
        _td(e(image.eol) + (" (passed)" if image.eol_passed else ""), image.eol or "9999"),
        _td(consumers, total_consumers),
        _td(_cleanup_cell(image, cleanup_checked), len(image.cleanup_deletes)),
    ]
    head = (f'<tr class="image-row" data-image="{e(image.tagbase)}" data-state="{e(image.state)}" '
            f'data-search="{e(_search_text(image))}">'
            f'<th scope="row" data-sort="{e(image.tagbase)}" class="nowrap"><button type="button" class="toggle" '
            f'aria-expanded="false" aria-controls="{detail}">{e(image.tagbase)}</button></th>{"".join(cells)}</tr>')
    return head + (f'<tr class="detail-row" id="{detail}" data-image="{e(image.tagbase)}">'
                   f'<td colspan="{len(COLUMNS)}">{detail_panel(image, rollouts)}</td></tr>')


def _table(rows: Iterable[Iterable[str]], headers: Iterable[str], caption: str, cls: str = "") -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{e(caption)}: none</p>'
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    return (f'<table class="inner {cls}"><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def label_value(value: str) -> str:
    """A label whose value is a JSON object (the recorded bases) as one "key: value" line per entry."""
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not data:
        return ident(value)
    return "<br>".join(f"{ident(str(k))}: {ident(str(v), short_digest(str(v)) if str(v).startswith('sha256:') else None)}"
                       for k, v in data.items())


def image_history(image: ImageStatus, rollouts: Iterable[Rollout]) -> str:
    """The recent rollouts that touched this image: promoted it, held it, or the revert that holds it."""
    mine = []
    for r in rollouts:
        if image.tagbase in r.promoted:
            what = "promoted"
        elif image.tagbase in r.held:
            what = "held"
        elif r.kind == "reverted" and image.revert is not None and r.sha == image.revert.sha:
            what = "reverted"
        else:
            continue
        mine.append([e(what), ident(r.sha, r.sha[:10]), relative_time(r.time), e(r.subject)])
    return _table(mine, ("what", "commit", "when", "subject"), "Recent rollouts that touched it", "history")


def relative_time(iso: str) -> str:
    return f'<time datetime="{e(iso)}" title="{e(iso)}">{e(iso[:10])}</time>'


def detail_panel(image: ImageStatus, rollouts: Iterable[Rollout] = ()) -> str:
    facts = [
        ("State", badge(image.state) + f" {e(STATE_TEXT.get(image.state, ''))}"),
        ("Platform", e(image.platform)), ("Folder", f"<code>{e(image.folder)}</code>"),
        ("Owners", e(", ".join(image.owners))),
        ("End of life", e(image.eol or "none") + (" (passed)" if image.eol_passed else "")),
        ("Next step", e(image.next_step)),
        ("Definition on main", ident(image.main_definition, copy=True)),
        ("Definition on production", ident(image.production_definition, copy=True)
         if image.production_definition else "not in production's catalogue"),
        ("LKG", (f"{ident(image.lkg_tag)} {ident(image.lkg_digest, copy=True)}" if image.lkg_digest
                 else e(image.lkg_reason))),
    ]
    for channel in (image.staging, image.latest):
        tag = served_tag(image, channel)
        value = (f"{ident(tag) + ' ' if tag else ''}{ident(channel.digest, copy=True)} built "
                 f"{relative(channel.created, channel.age_days)}" if channel.digest else "not published")
        facts.append((channel.tag, value + f" &middot; {e(channel.stale)}"))
    dl = "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in facts)
    hold = hold_note(image)
    stale = ("<h4>Stale reasons</h4><ul class=\"stale-reasons\">"
             + "".join(f"<li>{e(r)}</li>" for r in image.stale_reasons) + "</ul>") if image.stale_reasons else ""
    tags = _table(([ident(t["tag"]), ident(t["digest"], short_digest(t["digest"])), e(t["kind"]), e(t.get("built")),
                    e(t.get("cleanup"))]
                   for t in image.tags[:MAX_TAGS]), ("tag", "digest", "kind", "built", "cleanup"),
                  f"Tags ({len(image.tags)}{', first ' + str(MAX_TAGS) + ' shown' if len(image.tags) > MAX_TAGS else ''})")
    labels = _table(([f"<code>{e(k)}</code>", label_value(v)] for k, v in image.labels.items()),
                    ("label", "value"), "Labels of the served digest")
    consumers = _table(([e(c.repository), _where(c.file, c.line, c.url), e(c.klass), f"<code>{e(c.reference)}</code>"]
                        for c in image.references), ("repository", "file:line", "class", "reference"), "Consumers")
    return (f'<div class="detail" role="region" aria-label="{e(image.tagbase)} details">'
            f"<h3>{e(image.tagbase)}</h3>{hold}<dl>{dl}</dl>{changes_block(image)}{stale}"
            f"{image_history(image, rollouts)}{consumers}{tags}{labels}</div>")


def hold_note(image: ImageStatus) -> str:
    """The one place a hold is rendered: the commit that holds it, how to lift it, and the rollout's reason."""
    if not image.hold:
        return ""
    revert = image.revert
    commit = (f' <span class="revert">{ident(revert.sha, revert.sha[:10], copy=True)} {e(revert.subject)}</span>'
              if revert else "")
    return (f'<p class="hold-reason" role="note"><span aria-hidden="true">{ICONS["held"]}</span> '
            f'<strong>Held:</strong> <span class="step">{e(hold_step(image).removeprefix("held: "))}</span>{commit}<br>'
            f'<span class="reason">{e(image.hold)}</span></p>')


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
    rows = [[ident(h.tag), ident(h.serving or ""), ident(h.wanted or ""), e(h.reason), e(h.until or ""),
             e(h.next_step)] for h in status.floating_holds]
    table = _table(rows, ("floating tag", "serving", "wanted", "reason", "possible from", "next"),
                   "Floating tags the next rollout keeps on production's target", "floating-holds")
    return ('<section aria-labelledby="floating-heading"><h2 id="floating-heading">Floating tags held</h2>'
            f"{table}</section>")


def summary_strip(status: FleetStatus) -> str:
    counts = status.counts()
    items = "".join(f'<li><button type="button" class="state-{s}{" zero" if not counts[s] else ""}" '
                    f'data-state-filter="{s}" aria-pressed="false" aria-controls="fleet" title="show only {s} images">'
                    f'<span class="icon" aria-hidden="true">{ICONS[s]}</span> <span class="count">{counts[s]}</span> '
                    f'<span class="label">{e(s)}</span></button></li>' for s in STATES)
    totals = status.totals()
    cleanup = (f'{totals["cleanupDeletes"]} tags the next cleanup deletes (of {totals["cleanupCandidates"]} old '
               f'enough to go by the rules; the others a rule keeps)' if status.cleanup_checked else "cleanup not checked")
    return (f'<ul class="summary" aria-label="Images by state">{items}</ul>'
            f'<p class="totals">{totals["images"]} images, {totals["tags"]} tags, {totals["consumers"]} consumer '
            f'references, {cleanup}; {totals["requests"]} registry requests; '
            + ('OS package lists read inside the images whose -staging differs from -latest.'
               if status.packages_checked else 'OS package lists not read (--packages reads them).') + '</p>')


def render_page(status: FleetStatus) -> str:
    head = "".join(f'<th scope="col" aria-sort="none"><button type="button" data-col="{i}">{e(c)}'
                   f'<span class="arrow" aria-hidden="true"></span></button></th>' for i, c in enumerate(COLUMNS))
    rows = "".join(image_row(i, image, status.cleanup_checked, status.rollouts)
                   for i, image in enumerate(status.images))
    title = f"Image status: {status.registry}/{status.repository}"
    return PAGE.format(
        title=e(title), css=CSS, js=JS, summary=summary_strip(status), head=head, rows=rows,
        count=len(status.images), floating=floating_holds_section(status), rollouts=rollouts_table(status),
        shared=shared_table(status), data=json_for_script(status.to_dict()),
        meta=(f"main <code>{e(status.main[:10])}</code> &middot; production <code>{e(status.production[:10])}</code>"
              f" &middot; last promoted <code>{e((status.promoted or 'none')[:10])}</code> &middot; as of "
              f"{e(re.sub(r'[.][0-9]+', '', status.generated))}" + (f" &middot; consumers from {e(Path(status.usage_file).name)}" if status.usage_file
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
<section aria-labelledby="shared-heading"><h2 id="shared-heading">Shared tags</h2>{shared}</section>
{floating}<section aria-labelledby="rollouts-heading"><h2 id="rollouts-heading">Recent rollouts</h2>{rollouts}</section>
</main>
<script type="application/json" id="status-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""
