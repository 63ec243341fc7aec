"""Write what `import-manifest` mapped: the catalogue (manifests/images.yml) and the policy with waivers.

The policy keeps the approved-base list it is given (`--policy-base`, or the existing policy.yml) and
never approves what the import found: each other base becomes a waiver (the base, the images using it, an
expiry date, a reason), so validate passes today and fails once the waiver expires.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from lifecycle import yamlio
from lifecycle.catalogue.catalog import qualified
from lifecycle.catalogue.dockerfile import normalize_reference
from lifecycle.errors import InputError
from lifecycle.catalogue.upstream_model import ImportResult

CATALOG_HEADER = ("yaml-language-server: $schema=../scripts/lifecycle/schemas/images.schema.json\n"
                  "Imported from an ImageBuilder manifest by `lifecycle import-manifest`: one image per upstream "
                  "platform, every upstream tag kept as spelled.")
POLICY_HEADER = ("yaml-language-server: $schema=../scripts/lifecycle/schemas/policy.schema.json\n"
                 "Approved bases: fnmatch patterns over the full reference of every FROM / COPY --from.")
DEFAULT_LABEL_PREFIX = "com.microsoft.dotnet-buildtools"


def _existing(dest: Path) -> dict[str, Any]:
    path = dest / "manifests" / "images.yml"
    if not path.is_file():
        return {}
    try:
        plain = yamlio.to_plain(yamlio.load_file(path))
    except InputError:
        return {}
    return plain if isinstance(plain, dict) else {}


def existing_catalog(dest: Path) -> dict[str, Any]:
    """The catalogue already at dest, as plain data ({} when there is none or it does not parse)."""
    return _existing(dest)


def existing_entries(dest: Path) -> dict[str, dict[str, Any]]:
    """Entries of a catalogue already at dest, so re-importing keeps tests, owners and end-of-life."""
    images = _existing(dest).get("images")
    default = str(_existing(dest).get("repository", ""))
    return {qualified(str(e.get("repository") or default), str(e["tagBase"]), default): e
            for e in images or [] if isinstance(e, dict) and "tagBase" in e}


def existing_aliases(dest: Path) -> list[str]:
    """Aliases a catalogue already at dest lists (a re-import keeps them)."""
    aliases = _existing(dest).get("aliases")
    return [str(a) for a in aliases or [] if isinstance(a, str)]


def existing_exclusions(dest: Path) -> dict[str, str]:
    """Exclusions a catalogue already at dest lists, with their reasons (a re-import keeps them)."""
    excluded = _existing(dest).get("excluded")
    return {str(e["dockerfile"]): str(e.get("reason", "")) for e in excluded or []
            if isinstance(e, dict) and "dockerfile" in e}


def _flow(values: list[Any]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def render_catalog(result: ImportResult, existing: dict[str, dict[str, Any]] | None = None) -> str:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    existing = existing or {}
    doc = CommentedMap()
    doc["registry"] = result.registry
    doc["repository"] = result.repository
    if result.aliases:
        doc["aliases"] = CommentedSeq(result.aliases)
    if result.shared:
        shared = CommentedMap()
        for tag, members in result.shared.items():
            shared[_string(tag)] = _flow([_string(m) for m in members])
        doc["sharedTags"] = shared
    images = CommentedSeq()
    for index, entry in enumerate(result.images):
        item = CommentedMap()
        item["tagBase"] = _string(entry["tagBase"])
        if entry.get("repository"):
            item["repository"] = entry["repository"]
        item["dockerfile"] = entry["dockerfile"]
        platform = CommentedMap(entry["platform"])
        platform.fa.set_flow_style()
        item["platform"] = platform
        if entry.get("buildArgs"):
            # always quoted: 3.30 or 1e3 would otherwise come back as numbers and fail the schema
            args = CommentedMap({k: DoubleQuotedScalarString(v) for k, v in entry["buildArgs"].items()})
            args.fa.set_flow_style()
            item["buildArgs"] = args
        kept = existing.get(result.name_of(entry), {})
        for key in ("tests", "owners", "endOfLife", "osUpgrade"):
            if key in kept:
                value = kept[key]
                if isinstance(value, list):
                    value = _flow(value)
                elif key == "endOfLife":
                    value = _as_date(value)
                item[key] = value
        if entry.get("sharedTags"):
            item["sharedTags"] = _flow([_string(t) for t in entry["sharedTags"]])
        images.append(item)
        if index:
            images.yaml_set_comment_before_after_key(index, before="\n", indent=2)
    if result.excluded:
        excluded = CommentedSeq()
        for path, reason in sorted(result.excluded.items()):
            excluded.append(CommentedMap([("dockerfile", path), ("reason", reason)]))
        doc["excluded"] = excluded
    doc["images"] = images
    doc.yaml_set_start_comment(CATALOG_HEADER)
    return yamlio.dump_text(doc)


def _as_date(value: Any) -> Any:
    """A real date is written bare (2027-07-31), like the hand-written catalogue; anything else stays text."""
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return value


# tags and catalogue names: plain scalars whose type only the implicit resolvers decide (no ": ", "#", flow chars)
_PLAIN_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/:-]*")


def _string(value: str) -> str:
    """Quote a string YAML would read back as something else (1.0, true, null...)."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return value if _reads_as_string(value) else DoubleQuotedScalarString(value)


@lru_cache(maxsize=None)
def _reads_as_string(value: str) -> bool:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    if _PLAIN_RE.fullmatch(value) and not value.endswith(":"):
        # a full parse per tag was most of an import's time; the resolver is what decides 1.0 or true
        return VersionedResolver().resolve(ScalarNode, value, (True, False)) == "tag:yaml.org,2002:str"
    return isinstance(YAML(typ="safe").load(value), str)


def _approved(ref: str, patterns: list[str]) -> bool:
    normalized = normalize_reference(ref)
    return any(fnmatch.fnmatchcase(ref, p) or fnmatch.fnmatchcase(normalized, p) for p in patterns)


def render_policy(result: ImportResult, given: list[str], existing_text: str | None, expires: dt.date,
                  reason: str) -> str:
    """The policy: approved bases as given (added to an existing policy's), a waiver per other base."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if existing_text is not None:
        doc = yamlio.load_text(existing_text, "manifests/policy.yml")
    else:
        doc = CommentedMap()
        doc.yaml_set_start_comment(POLICY_HEADER)
    bases = doc.setdefault("approvedBases", CommentedSeq())
    for pattern in given:
        if pattern not in bases:
            bases.append(pattern)
    doc.setdefault("labelPrefix", DEFAULT_LABEL_PREFIX)
    approved = [str(b) for b in bases]
    waivers = doc.get("waivers")
    by_base = {str(w.get("base")): w for w in waivers or [] if isinstance(w, dict)}
    for base, users in result.base_users.items():
        if _approved(base, approved):
            continue
        waiver = by_base.get(base)
        if waiver is not None:  # an existing waiver keeps its expiry; it covers the images found now too
            for tagbase in users:
                if tagbase not in waiver["images"]:
                    waiver["images"].append(tagbase)
            continue
        if waivers is None:
            waivers = doc["waivers"] = CommentedSeq()
        item = CommentedMap()
        item["base"] = base
        item["images"] = _flow(list(users))
        item["expires"] = dt.date.fromordinal(expires.toordinal())  # one object each: no YAML anchors
        item["reason"] = reason
        waivers.append(item)
        by_base[base] = item
    return yamlio.dump_text(doc)
