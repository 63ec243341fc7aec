"""lifecycle verify IMAGE_REF"""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.commands.options import insecure_option, output_option, repo_option, reporter
from lifecycle.errors import OperationError
from lifecycle.output import short_digest
from lifecycle.registry import RegistryClient, parse_reference
from lifecycle.supplychain.verify import trusted_keys, verify_digest


@click.command()
@click.argument("image_ref")
@repo_option
@output_option
@insecure_option
def verify(image_ref: str, repo: Path, output: str, insecure: tuple[str, ...]) -> None:
    """Provenance, SBOM summary and end of life of IMAGE_REF; fails unless its provenance verifies
    against the repository's public keys (keys/*.pub)."""
    out = reporter(output)
    parsed = parse_reference(image_ref, require_ref=True)
    keys = trusted_keys(repo)
    with RegistryClient(parsed.registry, insecure=insecure) as client:
        digest = client.resolve(parsed.repository, parsed.ref)
        report = verify_digest(client, parsed.repository, digest, keys)
    data = {"reference": str(parsed), **report.as_dict()}
    p = report.provenance
    out.table([{"reference": str(parsed), "digest": short_digest(digest), "provenance":
                "verified" if report.verified else "NOT verified", "commit": (p.get("commit") or "")[:12],
                "definition": short_digest(p.get("definitionHash")),
                "sbom": "none" if report.sbom_components is None else f"{report.sbom_components} components",
                "end of life": report.end_of_life or "", "reason": report.reason}], data=data)
    if not report.verified:
        raise OperationError(f"{parsed}: provenance of {digest} does not verify: {report.reason}")
