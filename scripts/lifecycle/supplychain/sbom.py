"""CycloneDX (1.5, JSON) SBOMs from an image's package inventory, written with cyclonedx-python-lib."""

from __future__ import annotations

import json
import uuid
import warnings

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.bom_ref import BomRef
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot5
from packageurl import PackageURL

from lifecycle.packages.inventory import Inventory

MEDIA_TYPE = "application/vnd.cyclonedx+json"   # the referrer's artifactType and layer type
NOTE_PROPERTY = "lifecycle:inventory-note"


def _purl(inventory: Inventory, kind: str, name: str, version: str, arch: str) -> PackageURL:
    qualifiers = {"arch": arch} if arch else {}
    if inventory.os_id and inventory.os_version:
        qualifiers["distro"] = f"{inventory.os_id}-{inventory.os_version}"
    return PackageURL(kind, inventory.os_id or None, name, version, qualifiers or None)


def _bom(subject_name: str, digest: str, components: list[Component], properties: list[Property]) -> bytes:
    # the serial number derives from the digest: the same image always gets the same document identity
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"{subject_name}@{digest}"))
    root = Component(name=subject_name, version=digest, type=ComponentType.CONTAINER,
                     bom_ref=BomRef(f"{subject_name}@{digest}"), properties=properties)
    bom.metadata.component = root
    for component in components:
        bom.components.add(component)
    bom.register_dependency(root, components)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library warns about incomplete graphs of leaf components
        text = JsonV1Dot5(bom).output_as_string(indent=None)
    return text.encode()


def image_sbom(subject_name: str, digest: str, inventory: Inventory) -> bytes:
    """One platform image: a library component per installed package, identified by its purl."""
    components = []
    for package in inventory.packages:
        purl = _purl(inventory, package.kind, package.name, package.version, package.arch)
        components.append(Component(name=package.name, version=package.version, type=ComponentType.LIBRARY,
                                    purl=purl, bom_ref=BomRef(purl.to_string())))
    properties = [Property(name=NOTE_PROPERTY, value=inventory.note)] if inventory.note else []
    if inventory.os_pretty:
        properties.append(Property(name="lifecycle:os", value=inventory.os_pretty))
    return _bom(subject_name, digest, components, properties)


def index_sbom(subject_name: str, digest: str, members: dict[str, str]) -> bytes:
    """A multi-platform index: each platform image it lists (platform -> digest) as a container component;
    their packages are in their own SBOMs."""
    components = [Component(name=subject_name, version=member, type=ComponentType.CONTAINER,
                            bom_ref=BomRef(f"{subject_name}@{member}"),
                            properties=[Property(name="lifecycle:platform", value=platform)])
                  for platform, member in sorted(members.items())]
    return _bom(subject_name, digest, components, [])


def component_names(document: bytes) -> list[str]:
    """The components an SBOM lists (for reports and tests); [] for a document that is not JSON."""
    try:
        return [c.get("name", "") for c in json.loads(document).get("components") or []]
    except ValueError:
        return []
