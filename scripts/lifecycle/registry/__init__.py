"""OCI distribution registry client: references, auth, transport with retries, and the operations."""

from lifecycle.registry.auth import AuthError, Credentials
from lifecycle.registry.client import ANONYMOUS, NotFoundError, RegistryClient
from lifecycle.registry.models import (DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Descriptor,
                                       ImageConfig, Manifest, Platform, RetagResult, sha256_digest)
from lifecycle.registry.reference import Reference, parse_reference
from lifecycle.registry.transport import RegistryError, RetryPolicy

__all__ = [
    "ANONYMOUS", "AuthError", "Credentials", "DOCKER_LIST", "DOCKER_MANIFEST", "Descriptor", "ImageConfig",
    "Manifest", "NotFoundError", "OCI_INDEX", "OCI_MANIFEST", "Platform", "Reference", "RegistryClient",
    "RegistryError", "RetagResult", "RetryPolicy", "parse_reference", "sha256_digest",
]
