"""The status page's shared-tags section: one row per shared tag, an index's children under it."""

from __future__ import annotations

from lifecycle.output import short_digest
from lifecycle.status.model import FleetStatus, SharedChild, SharedTagStatus
from lifecycle.status.page_parts import badge, e, ident


def _children(children: list[SharedChild]) -> str:
    items = "".join(f'<li><span class="platform">{e(c.platform)}</span> '
                    f'{ident(c.digest, short_digest(c.digest))} '
                    + (f'&rarr; <span class="member">{e(c.tagbase)}</span>' if c.tagbase
                       else '<span class="warn">no member\'s digest</span>') + "</li>" for c in children)
    return f'<ul class="children">{items}</ul>' if items else ""


def shared_row(row: SharedTagStatus) -> str:
    step = ("in step with its members' -latest" if row.in_step
            else "not in step: the next rollout (or reconcile) moves it over the members' -latest")
    return (f'<tr class="shared-row" data-tag="{e(row.tag)}" data-state="{e(row.state)}">'
            f'<th scope="row" class="nowrap">{ident(row.tag)}</th>'
            f"<td>{e(row.kind)}</td><td>{badge(row.state)}</td>"
            f'<td class="nowrap">{"<br>".join(e(m) for m in row.members)}</td>'
            f'<td class="nowrap">{ident(row.staging, short_digest(row.staging)) or "not published"}'
            f'{_children(row.staging_children)}</td>'
            f'<td class="nowrap">{ident(row.latest, short_digest(row.latest)) or "not published"}'
            f'{_children(row.latest_children)}</td><td class="step">{e(step)}</td></tr>')


def shared_table(status: FleetStatus) -> str:
    if not status.shared:
        return '<p class="muted">No shared tags in main\'s catalogue.</p>'
    head = "".join(f'<th scope="col">{h}</th>' for h in ("Shared tag", "Kind", "State", "Members", "Staging",
                                                         "Latest", "Next step"))
    return (f'<table id="shared"><caption>What consumers pull by a shared name: an index lists its children '
            f'(platform, digest, the member it is)</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(shared_row(r) for r in status.shared)}</tbody></table>')

