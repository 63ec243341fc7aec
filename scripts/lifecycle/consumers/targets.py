"""Where a reference should point, per branch: the branch's .NET floating tag, else `<tagbase>-latest`.

A branch uses the floating tag of its own .NET version (`release/9.0` -> `alpine-net9.0-helix-amd64`); a
branch without a version in its name (`main`, a working tree) is the in-development version, the newest
in policy.yml's `dotnetVersions`. An image past its end of life moves to the floating tag of its line or,
without one, to the newest catalogued image of the same line that is not past its end of life.

An image's line is its name without version parts (`alpine-3.21-net9.0-helix-amd64` and
`alpine-net9.0-helix-amd64` are both `alpine-helix-amd64`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from lifecycle.consumers.classify import BARE, DIGEST, EOL, LATEST, PINNED, Classified, KnownImages
from lifecycle.consumers.references import COMMENT
from lifecycle.catalogue.floating import FloatingTag, version_key

VERSION_PART = re.compile(r"\d+(\.\d+)*|net\d+\.\d+")
BRANCH_VERSION = re.compile(r"(?<![\d.])(\d+\.\d+)(?![\d.])")


def image_line(name: str) -> str:
    return "-".join(p for p in name.split("-") if not VERSION_PART.fullmatch(p))


def _numbers(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


@dataclass(frozen=True)
class Targets:
    known: KnownImages
    floating: tuple[FloatingTag, ...] = ()
    dotnet_versions: tuple[str, ...] = ()
    unpin: bool = False
    today: dt.date = field(default_factory=dt.date.today)

    def branch_version(self, branch: str | None) -> str | None:
        found = BRANCH_VERSION.search(branch or "")
        if found:
            return found.group(1)
        return max(self.dotnet_versions, key=version_key) if self.dotnet_versions else None

    def floating_for(self, tagbase: str, branch: str | None) -> str | None:
        """The floating tag of `tagbase`'s line for the branch's .NET version, as a catalogue name: it lives
        in its target's repository, which must be `tagbase`'s."""
        version = self.branch_version(branch)
        repository, tag = self.known.locate(tagbase)
        line = image_line(tag)
        for f in self.floating:
            if f.dotnet == version and image_line(f.tag) == line and self.known.locate(f.target)[0] == repository:
                return self.known.qualify(repository, f.tag)
        return None

    def successor(self, tagbase: str) -> str | None:
        """The newest catalogued image of the same line that is not past its end of life."""
        line = image_line(tagbase)
        alive = [t for t in self.known.tagbases if t != tagbase and image_line(t) == line
                 and not self.known.past_eol(t, self.today)]
        return max(alive, key=_numbers) if alive else None

    def target(self, c: Classified, branch: str | None) -> str | None:
        """The tag this reference should use on `branch`, or None to leave it alone."""
        if c.reference.kind == COMMENT or c.reference.expression or c.tagbase is None:
            return None
        if c.form == DIGEST and not self.unpin:
            return None  # a pin is a deliberate choice with a tracking issue: only --unpin moves it
        if c.form not in (BARE, PINNED, LATEST, DIGEST) and c.klass != EOL:
            return None
        tagbase = c.tagbase
        floating = self.floating_for(tagbase, branch)
        if floating is not None:
            return floating
        if self.known.past_eol(tagbase, self.today):
            nxt = self.successor(tagbase)
            if nxt is not None:
                return f"{nxt}-latest"
        if c.form == LATEST:
            return None
        return f"{tagbase}-latest" if tagbase in self.known.tagbases else None
