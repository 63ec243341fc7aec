"""`lifecycle validate`: every rule the repository must satisfy, reported together with file:line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lifecycle import yamlio
from lifecycle.catalogue.catalog import TAG_RE
from lifecycle.catalogue.policy import Waiver
from lifecycle.catalogue.dockerfile import normalize_reference
from lifecycle.errors import InputError, Location
from lifecycle.catalogue.source import TreeSource
from lifecycle.catalogue.workspace import Problem, WaiverUse, Workspace

PIPELINE_DIRS = ("pipelines", "eng/pipelines")
# the longest tag we derive from a tag base: "-yyyyMMddHHmmss-<7 hex>"
LONGEST_SUFFIX = len("-20260101000000-0123456")


def validate(source: TreeSource, *, today: dt.date | None = None, pipelines_root: Path | None = None,
             consumers_root: Path | None = None) -> Workspace:
    """Load and check everything; returns the workspace with its problems (errors and warnings).
    `pipelines_root`/`consumers_root`: the checkout whose pipeline YAML and manifests/consumers.yml to check."""
    ws = Workspace.load(source, strict=False)
    today = today or dt.date.today()
    _check_tags(ws)
    _check_folders(ws)
    _check_bases(ws, today)
    _check_eol(ws, today)
    _check_floating(ws, today)
    if pipelines_root is not None:
        _check_pipelines(pipelines_root, ws)
    if consumers_root is not None:
        _check_consumers(consumers_root, ws)
    return ws


def _check_tags(ws: Workspace) -> None:
    # duplicates (tag bases, shared tags, any tag two images would move) stop the catalogue from loading
    for image in ws.catalog.images:
        where = (ws.catalog.path, image.line)
        for tag in (image.tag + "-" + "0" * (LONGEST_SUFFIX - 1), *image.shared_tags):
            if not TAG_RE.match(tag):
                shown = image.tag if tag.startswith(image.tag + "-0") else tag
                ws._problem(f"{shown!r} is not a valid tag (OCI: [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}, "
                            f"with room for the -<timestamp>-<sha> suffix)", *where)
    for shared in ws.catalog.index_tags:
        longest = shared.channel_tag("staging")
        if not TAG_RE.match(longest):
            ws._problem(f"shared tag {shared.tag!r}: {longest!r} is not a valid tag", ws.catalog.path, shared.line)


def is_dockerfile_name(name: str) -> bool:
    return name == "Dockerfile" or name.startswith("Dockerfile.") or name.lower().endswith(".dockerfile")


def _check_folders(ws: Workspace) -> None:
    """Every Dockerfile under src/ is built by some image (any number of images may share one) or listed
    under `excluded:` with a reason; an exclusion names an existing Dockerfile that no image builds."""
    catalogued = {i.dockerfile for i in ws.catalog.images}
    excluded = {e.dockerfile: e for e in ws.catalog.excluded}
    present = set()
    for path in ws.source.all_files():
        if path.startswith("src/") and is_dockerfile_name(path.rsplit("/", 1)[-1]):
            present.add(path)
            if path not in catalogued and path not in excluded:
                ws._problem("Dockerfile is not in the catalogue (add it to manifests/images.yml, list it under "
                            "excluded: with a reason, or remove it)", path)
    for path, exclusion in excluded.items():
        if path in catalogued:
            ws._problem(f"excluded Dockerfile {path} is built by an image too: remove one of the two",
                        ws.catalog.path, exclusion.line)
        elif path not in present:
            ws._problem(f"excluded Dockerfile {path} does not exist (any more): remove the exclusion",
                        ws.catalog.path, exclusion.line, severity="warning")


def _check_bases(ws: Workspace, today: dt.date) -> None:
    used: dict[Waiver, set[str]] = {}
    for tagbase, df in ws.dockerfiles.items():
        for stage in df.stages:
            refs = [stage.base, *stage.copies_from]
            for ref in refs:
                if not ref.is_image or ws.in_repo_tag(ref.ref) is not None:
                    continue
                normalized = normalize_reference(ref.ref)
                if ws.policy.approves(ref.ref) or ws.policy.approves(normalized):
                    continue
                stage_name = f"stage {stage.index}" + (f" ({stage.name})" if stage.name else "")
                waiver = ws.policy.waiver_for(ref.ref, tagbase, normalized)
                if waiver is None:
                    ws._problem(f"{ref.instruction} {ref.ref} in {stage_name} is not an approved base "
                                f"(see approvedBases in {ws.policy.path})", df.path, ref.line)
                elif waiver.expires < today:
                    ws._problem(f"{ref.instruction} {ref.ref} in {stage_name}: its waiver expired on {waiver.expires} "
                                f"({ws.policy.path}:{waiver.line}, {waiver.reason}); approve or replace the base",
                                df.path, ref.line)
                else:
                    used.setdefault(waiver, set()).add(tagbase)
    ws.waivers = [WaiverUse(w, sorted(used.get(w, ())), w.days_left(today)) for w in ws.policy.waivers]
    for use in ws.waivers:
        unknown = [t for t in use.waiver.images if ws.catalog.get(t) is None]
        if unknown:
            ws._problem(f"waiver for {use.waiver.base} names {', '.join(unknown)}, not in the catalogue",
                        ws.policy.path, use.waiver.line, severity="warning")
        elif not use.using:
            ws._problem(f"waiver for {use.waiver.base}: no image uses that base any more; remove the waiver",
                        ws.policy.path, use.waiver.line, severity="warning")


def _check_eol(ws: Workspace, today: dt.date) -> None:
    for image in ws.catalog.images:
        if image.past_eol(today):
            ws._problem(f"{image.tagbase} reached end of life on {image.eol}: retire it (lifecycle retire)",
                        ws.catalog.path, image.line, severity="warning")


def _check_floating(ws: Workspace, today: dt.date) -> None:
    from lifecycle.catalogue import floating

    try:
        tags = floating.load(ws.source)
    except InputError as exc:
        ws.problems.append(Problem(str(exc).split(": ", 1)[-1] if exc.location else str(exc),
                                   exc.location or Location(floating.FLOATING_PATH)))
        return
    for message, line, severity in floating.problems(tags, ws.catalog, ws.policy, today):
        ws._problem(message, floating.FLOATING_PATH, line, severity=severity)


def _check_pipelines(root: Path, ws: Workspace) -> None:
    for folder in PIPELINE_DIRS:
        for path in sorted((root / folder).rglob("*.yml")) if (root / folder).is_dir() else []:
            rel = str(path.relative_to(root))
            try:
                document = yamlio.load_file(path, rel)
            except InputError as exc:
                ws.problems.append(Problem(str(exc).split(": ", 1)[-1], exc.location or Location(rel)))
                continue
            if not isinstance(document, dict):
                ws._problem("a pipeline file must be a mapping", rel)


def _check_consumers(root: Path, ws: Workspace) -> None:
    from lifecycle.consumers.config import CONSUMERS_PATH, load_consumers

    if not (root / CONSUMERS_PATH).is_file():
        return
    try:
        load_consumers(root / CONSUMERS_PATH, root, CONSUMERS_PATH)
    except InputError as exc:
        ws.problems.append(Problem(str(exc).split(": ", 1)[-1] if exc.location else str(exc),
                                   exc.location or Location(CONSUMERS_PATH)))
