"""DSSE signing and verification of provenance with securesystemslib's signer API.

A key file (PEM, PKCS#8) locally and in tests; in production policy can name an Azure Key Vault key
(securesystemslib's AzureSigner), which needs securesystemslib's `azurekms` extra installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, Signer, SSlibKey

from lifecycle.errors import InputError


def load_signer(uri: str, public_key: SSlibKey | None = None) -> Signer:
    """A signer from a policy key URI: `file:<path to PEM private key>`, or `azurekms:<vault>/<key>`
    with its public key (securesystemslib's AzureSigner)."""
    scheme, _, rest = uri.partition(":")
    if scheme == "file":
        path = Path(rest)
        try:
            private = load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(f"signing key {path}: cannot load a PEM private key ({exc})") from None
        return CryptoSigner(private)
    if scheme == "azurekms":
        if public_key is None:
            raise InputError(f"signing key {uri}: an Azure Key Vault key needs its public key in policy")
        try:
            import azure.keyvault.keys  # noqa: F401  (the SDK AzureSigner drives)
        except ImportError:
            raise InputError(f"signing key {uri}: needs securesystemslib[azurekms] (the Azure SDK), "
                             "which is not installed") from None
        return Signer.from_priv_key_uri(uri, public_key)
    raise InputError(f"signing key {uri!r}: unknown scheme {scheme!r} (expected file: or azurekms:)")


def load_public_key(path: Path) -> SSlibKey:
    """A trusted public key from a PEM file (the repository's keys folder)."""
    try:
        return SSlibKey.from_crypto(load_pem_public_key(path.read_bytes()))
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"public key {path}: cannot load a PEM public key ({exc})") from None


def sign(payload: bytes, payload_type: str, signer: Signer) -> bytes:
    envelope = Envelope(payload=payload, payload_type=payload_type, signatures={})
    envelope.sign(signer)
    return json.dumps(envelope.to_dict(), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Verified:
    ok: bool
    reason: str             # why it failed, or the id of the key that verified it
    document: dict | None   # the signed statement, only when it verified


def verify(envelope_bytes: bytes, trusted: list[SSlibKey]) -> Verified:
    """Check a DSSE envelope against the trusted keys; the statement is returned only if it verifies."""
    try:
        envelope = Envelope.from_dict(json.loads(envelope_bytes))
    except (ValueError, KeyError, TypeError) as exc:
        return Verified(False, f"not a DSSE envelope ({type(exc).__name__})", None)
    if not envelope.signatures:
        return Verified(False, "unsigned", None)
    if not trusted:
        return Verified(False, "no trusted keys", None)
    try:
        accepted = envelope.verify(trusted, 1)
    except VerificationError as exc:
        return Verified(False, f"signature does not verify against a trusted key ({exc})", None)
    try:
        document = json.loads(envelope.payload)
    except ValueError:
        return Verified(False, "signed payload is not JSON", None)
    return Verified(True, ", ".join(sorted(accepted)), document)
