"""The detail panel's "What changes for consumers" block (status/diff.py's ImageDiff)."""

from __future__ import annotations

from lifecycle.output import short_digest
from lifecycle.status.model import ImageStatus
from lifecycle.status.page_parts import e, ident


def changes_block(image: ImageStatus) -> str:
    """What -latest's consumers get when -staging is promoted: commits, base digests, OS packages."""
    diff = image.changes
    if diff is None:
        return ""
    lead = ("Held: the next rollout keeps -latest; lifting the hold brings this." if image.hold
            else "What consumers of -latest get at the next rollout:")
    commits = "".join(f"<li>{ident(c.sha, c.sha[:10])} {e(c.subject)} <span class=\"muted\">{e(c.author)}, "
                      f"{e(c.time[:10])}</span></li>" for c in diff.commits)
    bases = "".join(f"<li>base {ident(b.reference)} {ident(b.latest, short_digest(b.latest)) or 'none'} &rarr; "
                    f"{ident(b.staging, short_digest(b.staging)) or 'none'}</li>" for b in diff.bases)
    return (f'<div class="changes"><h4>What changes for consumers</h4><p>{e(lead)}</p>'
            + (f'<ul class="commits">{commits}</ul>' if commits else "")
            + (f'<ul class="bases">{bases}</ul>' if bases else "")
            + (f'<p class="muted">{e(diff.note)}</p>' if diff.note else "")
            + '<p class="muted">OS packages: not read (publish records no package list).</p></div>')
