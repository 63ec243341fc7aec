"""Rows for the table and markdown outputs (output.Reporter prints them) and the markdown run summary."""

from __future__ import annotations

from typing import Any

from lifecycle.output import markdown_table, short_digest
from lifecycle.status.model import STATE_TEXT, STATES, FleetStatus, ImageStatus

# Plain text symbols every system font has (no emoji: a bare CI agent or headless browser lacks them).
ICONS = {"held": "‖", "eol": "✕", "unpublished": "∅", "stale": "⚠", "pending": "↑", "retiring": "↓",
         "current": "✓"}


def _age(days: int | None) -> str:
    return "" if days is None else f"{days}d"


def image_row(image: ImageStatus, cleanup_checked: bool = True) -> dict[str, Any]:
    return {
        "image": image.tagbase,
        "state": image.state,
        "next": image.next_step,
        "staging": " ".join(p for p in (short_digest(image.staging.digest), _age(image.staging.age_days)) if p),
        "latest": " ".join(p for p in (short_digest(image.latest.digest), _age(image.latest.age_days)) if p),
        "prod=main": "yes" if image.in_sync else "no",
        "hold": image.hold or "",
        "lkg": image.lkg_tag or (image.lkg_reason or ""),
        "stale": "; ".join(image.stale_reasons),
        "eol": (image.eol or "") + (" (passed)" if image.eol_passed else ""),
        "consumers": ", ".join(f"{k} {v}" for k, v in image.consumers.items()),
        "cleanup": ("not checked" if not cleanup_checked else
                    f"{len(image.cleanup_deletes)}/{len(image.cleanup_candidates)}" if image.cleanup_candidates else ""),
    }


def totals_row(status: FleetStatus) -> dict[str, Any]:
    return status.totals()


def rollout_rows(status: FleetStatus) -> list[dict[str, Any]]:
    return [{"commit": r.sha[:10], "time": r.time, "kind": r.kind, "promoted": ", ".join(r.promoted),
             "held": ", ".join(r.held), "subject": r.subject} for r in status.rollouts]


def floating_hold_rows(status: FleetStatus) -> list[dict[str, Any]]:
    return [{"floating tag": h.tag, "serving": h.serving or "", "wanted": h.wanted or "", "reason": h.reason,
             "possible from": h.until or "", "next": h.next_step} for h in status.floating_holds]


def headline(status: FleetStatus) -> str:
    counts = status.counts()
    parts = [f"{counts[s]} {s}" for s in STATES if counts[s]]
    return (f"Fleet {status.registry}/{status.repository}: {len(status.images)} images"
            + (f" ({', '.join(parts)})" if parts else ""))


def markdown_summary(status: FleetStatus, page_name: str | None = None) -> str:
    """The run summary a pipeline uploads (##vso[task.uploadsummary]): counts, what needs a look, rollouts."""
    counts = status.counts()
    lines = [f"# Image status: {status.registry}/{status.repository}", "",
             f"main `{status.main[:10]}`, production `{status.production[:10]}`, as of {status.generated}", "",
             "| state | images |", "|---|---|"]
    lines += [f"| {ICONS[s]} {s} ({STATE_TEXT[s]}) | {counts[s]} |" for s in STATES]
    lines.append("")
    attention = [i for i in status.images if i.state != "current"]
    lines.append("## Needs a look\n")
    lines.append(markdown_table([{k: v for k, v in image_row(i).items()
                                  if k in ("image", "state", "next", "stale", "lkg", "eol")} for i in attention]))
    if status.floating_holds:
        lines.append("## Floating tags held\n")
        lines.append(markdown_table(floating_hold_rows(status)))
    lines.append("## Recent rollouts\n")
    lines.append(markdown_table(rollout_rows(status)))
    if page_name:
        lines.append(f"The full page (filter, sort, details per image) is the `{page_name}` artifact.\n")
    return "\n".join(lines)
