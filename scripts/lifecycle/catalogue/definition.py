"""Definition hashes: a sha256 over everything in git that defines an image.

Inputs: the Dockerfile, every git-tracked file of its build context (honouring .dockerignore, and minus the
nested folders that are other catalogued images' contexts), its build
args, its platform, the external base references of every stage (and COPY --from images), and the
definition hashes of its in-repo parents. Not the base images' digests: a new base digest is a reason to
rebuild the same definition. Because parents' hashes are inputs, a change to a parent changes every
descendant.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Iterable, Mapping

from lifecycle.catalogue import dockerignore
from lifecycle.catalogue.catalog import ImageSpec
from lifecycle.catalogue.source import TreeSource

HASH_VERSION = 1


def context_files(source: TreeSource, folder: str, nested: Iterable[str] = (),
                  dockerfile: str = "Dockerfile") -> list[str]:
    """Files the build would send, relative to the context folder, sorted; `nested`: folders inside it that
    are other images' contexts, whose files define those images and not this one."""
    prefix = folder.rstrip("/") + "/"
    ignore = source.read(prefix + ".dockerignore")
    rules = _rules(ignore) if ignore is not None else []
    skip = tuple(n.rstrip("/")[len(prefix):] + "/" for n in nested)
    rel = [p[len(prefix):] for p in source.files_under(folder)]
    keep = {dockerfile, ".dockerignore"}  # the builder always reads these two
    return sorted(p for p in rel if not (skip and p.startswith(skip))
                  and (p in keep or dockerignore.included(p, rules)))


@lru_cache(maxsize=1024)
def _rules(ignore: bytes) -> list[dockerignore.Rule]:
    # most contexts share a handful of .dockerignore texts; compiling their patterns once is enough
    return dockerignore.parse(ignore.decode("utf-8", "replace"))


def definition_inputs(source: TreeSource, image: ImageSpec, external_refs: list[str],
                      parents: Mapping[str, str], nested: Iterable[str] = ()) -> dict:
    prefix = image.folder.rstrip("/") + "/"
    extra = {}
    # only when not the defaults, so that definitions of existing images keep their hashes
    if image.dockerfile_name != "Dockerfile":
        extra["dockerfilePath"] = image.dockerfile
    if image.os_version:
        extra["osVersion"] = image.os_version
    return {
        **extra,
        "version": HASH_VERSION,
        "dockerfile": source.blob_id(image.dockerfile),
        # the mode is git's: an executable bit is part of what the build copies
        "context": [[rel, "100755" if source.executable(prefix + rel) else "100644", source.blob_id(prefix + rel)]
                    for rel in context_files(source, image.folder, nested, image.dockerfile_name)],
        "buildArgs": dict(sorted(image.build_args.items())),
        "platform": str(image.platform),
        "externalBases": list(external_refs),
        "parents": dict(sorted(parents.items())),
    }


def definition_hash(inputs: dict) -> str:
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
