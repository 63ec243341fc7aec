"""The `##vso[...]` logging commands a step prints, as the agent reads them from its output."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.pipelines.model import HarnessError

LINE = re.compile(r"^##vso\[(?P<command>[\w.]+)(?P<props>[^\]]*)\](?P<message>.*)$")
KNOWN = {"task.setvariable", "task.logissue", "task.complete", "task.uploadsummary", "task.prependpath",
         "task.setsecret"}


@dataclass
class Command:
    command: str
    properties: dict[str, str] = field(default_factory=dict)
    message: str = ""

    def flag(self, name: str) -> bool:
        return self.properties.get(name, "false").lower() == "true"


def parse(output: str, where: str) -> list[Command]:
    found = []
    for raw in output.splitlines():
        line = raw.strip()
        match = LINE.match(line)
        if not match:
            if line.startswith("##vso["):
                raise HarnessError(f"{where}: malformed logging command {line!r}")
            continue
        if match["command"] not in KNOWN:
            raise HarnessError(f"{where}: logging command {match['command']} is not modelled: {line!r}")
        props = {}
        for part in filter(None, (p.strip() for p in match["props"].split(";"))):
            key, sep, value = part.partition("=")
            if not sep:
                raise HarnessError(f"{where}: property {part!r} of {line!r} has no value")
            props[key.strip()] = value.strip()
        found.append(Command(match["command"], props, match["message"]))
    return found
