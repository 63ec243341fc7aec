"""The detail panel's "What changes for consumers" block (status/diff.py's ImageDiff)."""

from __future__ import annotations

from lifecycle.output import short_digest
from lifecycle.status.model import ImageDiff, ImageStatus
from lifecycle.status.packages_diff import security_text
from lifecycle.status.page_parts import e, ident


SECURITY = ' class="security"'


def packages_table(diff: ImageDiff) -> str:
    """The OS packages that change version, security fixes first; or why the lists were not read."""
    note = f'<p class="muted packages-note">OS packages: {e(diff.packages_note)}</p>' if diff.packages_note else ""
    if not diff.packages:
        return note
    absent, removed = '<span class="muted">not installed</span>', '<span class="muted">removed</span>'
    rows = "".join(
        f'<tr data-package="{e(p.name)}"{SECURITY if p.security else ""}><th scope="row">{e(p.name)}</th>'
        f"<td>{ident(p.latest) or absent}</td><td>{ident(p.staging) or removed}</td>"
        f"<td>{e(security_text(p.security))}</td></tr>"
        for p in sorted(diff.packages, key=lambda p: (not p.security, p.name)))
    n, fixes = len(diff.packages), sum(1 for p in diff.packages if p.security)
    return (f'<table class="packages"><caption>{n} OS package{"s" if n != 1 else ""} change version'
            f'{f", {fixes} with a security fix" if fixes else ""}</caption>'
            '<thead><tr><th scope="col">package</th><th scope="col">-latest</th><th scope="col">-staging</th>'
            f'<th scope="col">security</th></tr></thead><tbody>{rows}</tbody></table>{note}')


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
            + packages_table(diff) + "</div>")
