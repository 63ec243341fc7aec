"""Small pieces of the status page's markup: escaping, state badges, one-line identifiers, times."""

from __future__ import annotations

from html import escape
from typing import Any

from lifecycle.status.model import STATE_TEXT
from lifecycle.status.render_text import ICONS


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def badge(state: str) -> str:
    return (f'<span class="badge state-{e(state)}" title="{e(STATE_TEXT.get(state, state))}">'
            f'<span class="icon" aria-hidden="true">{ICONS.get(state, "?")}</span> {e(state)}</span>')


def ident(value: str | None, shown: str | None = None, copy: bool = False) -> str:
    """An identifier on one line: cut with an ellipsis, the whole value on hover and on keyboard focus."""
    if not value:
        return ""
    button = (f'<button type="button" class="copy" data-copy="{e(value)}" aria-label="copy {e(value)}">copy</button>'
              if copy else "")
    return f'<code class="id" tabindex="0" title="{e(value)}">{e(shown or value)}</code>{button}'


def relative(iso: str | None, days: int | None) -> str:
    """"today", "3d ago" with the exact time on hover."""
    if iso is None or days is None:
        return ""
    text = "today" if days <= 0 else f"{days}d ago"
    return f'<time datetime="{e(iso)}" title="{e(iso)}">{text}</time>'
