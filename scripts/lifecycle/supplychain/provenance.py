"""The in-toto Statement (v1) with a SLSA provenance (v1) predicate publish writes for each pushed digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://github.com/lifecycle/build/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
ARTIFACT_TYPE = "application/vnd.dsse.envelope.v1+json"  # the referrer's artifactType and layer type


@dataclass(frozen=True)
class BuildFacts:
    """What publish knows about one pushed digest."""
    image: str                      # repository (name) the digest was pushed to
    digest: str                     # sha256:<hex> of the pushed manifest or index
    repository_url: str             # source repository
    commit: str                     # full commit
    definition_hash: str            # catalogue definition hash of the image
    platform: str | None = None     # os/arch[/variant]; None for an index
    bases: dict[str, str] = field(default_factory=dict)   # base reference -> resolved digest
    build_args: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    run_url: str | None = None
    tests_passed: tuple[str, ...] = ()


def statement(facts: BuildFacts) -> dict:
    algorithm, _, hexpart = facts.digest.partition(":")
    external = {"definitionHash": facts.definition_hash, "buildArgs": dict(facts.build_args)}
    if facts.platform:
        external["platform"] = facts.platform
    metadata: dict = {}
    if facts.run_id:
        metadata["invocationId"] = facts.run_id
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": facts.image, "digest": {algorithm: hexpart}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": {"testsPassed": list(facts.tests_passed)},
                "resolvedDependencies": [
                    {"uri": f"git+{facts.repository_url}", "digest": {"gitCommit": facts.commit}},
                    *({"uri": ref, "digest": {d.partition(':')[0]: d.partition(':')[2]}}
                      for ref, d in sorted(facts.bases.items())),
                ],
            },
            "runDetails": {
                "builder": {"id": facts.run_url or "local"},
                "metadata": metadata,
            },
        },
    }


def index_definition(members: dict[str, str]) -> str:
    """The definition hash of a multi-platform index: its members' tag bases and definition hashes, so a
    change to any member's definition is a change of the index's."""
    return "sha256:" + hashlib.sha256(encode(dict(sorted(members.items())))).hexdigest()


def encode(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def subject_digest(document: dict) -> str | None:
    subjects = document.get("subject") or []
    if not subjects or not isinstance(subjects[0].get("digest"), dict):
        return None
    (algorithm, hexpart), *_ = subjects[0]["digest"].items()
    return f"{algorithm}:{hexpart}"


def definition_hash(document: dict) -> str | None:
    return (((document.get("predicate") or {}).get("buildDefinition") or {})
            .get("externalParameters") or {}).get("definitionHash")
