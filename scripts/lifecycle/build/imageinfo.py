"""image-info.json: what a publish run produced, one record per image (format in docs/image-info.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from lifecycle.jsonio import read_object, write_atomic
from lifecycle.errors import InputError, Location

FORMAT_VERSION = 1


@dataclass
class ImageInfo:
    tagbase: str
    status: str  # published | skipped | failed | blocked | built | planned
    definition: str
    revision: str
    digest: str | None = None
    immutable_tag: str | None = None
    channel_tag: str | None = None
    base_name: str | None = None
    base_digest: str | None = None
    bases: dict[str, str] = field(default_factory=dict)
    created: str | None = None
    tests: list[dict] = field(default_factory=list)  # {"command", "exit_code", "passed"}
    reason: str = ""
    # supply-chain referrers attached to `digest` by this run: provenance, sbom (digests), signed, components
    records: dict = field(default_factory=dict)


def write(path: Path, channel: str, registry: str, repository: str, records: list[ImageInfo]) -> None:
    document = {"version": FORMAT_VERSION, "channel": channel, "registry": registry, "repository": repository,
                "images": [asdict(r) for r in records]}
    write_atomic(path, document)


def read(path: Path) -> dict:
    document = read_object(path, "image-info file")
    if not isinstance(document.get("images"), list):
        raise InputError("not an image-info file (no 'images' list)", Location(str(path)))
    return document


def read_records(path: Path) -> tuple[dict, list[ImageInfo]]:
    """An image-info file's header and records; InputError naming the file when a record is malformed."""
    document = read(path)
    records = []
    for index, entry in enumerate(document["images"]):
        try:
            records.append(ImageInfo(**entry))
        except TypeError as exc:
            raise InputError(f"images[{index}] is not an image-info record ({exc})", Location(str(path))) from None
    return document, records


def records_for(files: list[Path], registry: str, repository: str) -> list[ImageInfo]:
    """Every record of these image-info files; InputError naming a file written for another repository."""
    records: list[ImageInfo] = []
    for path in files:
        document, found = read_records(path)
        if (document.get("registry"), document.get("repository")) != (registry, repository):
            raise InputError(f"{path}: written for {document.get('registry')}/{document.get('repository')}, "
                             f"not {registry}/{repository}")
        records += found
    return records


def info_files(paths: list[Path]) -> list[Path]:
    """Files as given, and every *.json below directories (pipeline artifacts arrive as folders)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(path.rglob("*.json"))
        elif path.exists():
            found.append(path)
        else:
            raise InputError("image-info file or folder not found", Location(str(path)))
    if not found:
        raise InputError("no image-info files found in " + ", ".join(map(str, paths)))
    return found
