"""DSSE signing of provenance with securesystemslib: verifies with the trusted key, fails otherwise."""

import json

import pytest

from lifecycle.errors import InputError
from lifecycle.supplychain import provenance, signing

FACTS = provenance.BuildFacts(
    image="127.0.0.1:5000/team/tool", digest="sha256:" + "ab" * 32, repository_url="https://dev.azure.com/org/lifecycle",
    commit="c0ffee" * 6 + "abcd", definition_hash="def123", platform="linux/amd64",
    bases={"docker.io/library/debian:12": "sha256:" + "cd" * 32}, build_args={"VERSION": "1"},
    run_id="42", run_url="https://dev.azure.com/org/project/_build/results?buildId=42", tests_passed=("smoke",))


def test_statement_names_subject_commit_bases_and_definition():
    doc = provenance.statement(FACTS)
    assert doc["_type"] == provenance.STATEMENT_TYPE and doc["predicateType"] == provenance.PREDICATE_TYPE
    assert provenance.subject_digest(doc) == FACTS.digest
    assert provenance.definition_hash(doc) == "def123"
    deps = doc["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert {"uri": "git+https://dev.azure.com/org/lifecycle", "digest": {"gitCommit": FACTS.commit}} in deps
    assert {"uri": "docker.io/library/debian:12", "digest": {"sha256": "cd" * 32}} in deps
    assert doc["predicate"]["runDetails"]["metadata"]["invocationId"] == "42"


def test_signed_envelope_verifies_with_trusted_key(signing_keys):
    private, public = signing_keys["trusted"]
    envelope = signing.sign(provenance.encode(provenance.statement(FACTS)), provenance.PAYLOAD_TYPE,
                            signing.load_signer(f"file:{private}"))
    result = signing.verify(envelope, [signing.load_public_key(public)])
    assert result.ok and result.reason == signing.load_public_key(public).keyid
    assert provenance.subject_digest(result.document) == FACTS.digest


def test_tampered_other_key_and_unsigned_envelopes_fail(signing_keys):
    trusted = [signing.load_public_key(signing_keys["trusted"][1])]
    payload = provenance.encode(provenance.statement(FACTS))
    good = json.loads(signing.sign(payload, provenance.PAYLOAD_TYPE,
                                   signing.load_signer(f"file:{signing_keys['trusted'][0]}")))
    tampered = dict(good, payload=good["payload"][:-8] + ("A" * 8 if not good["payload"].endswith("A" * 8) else "B" * 8))
    result = signing.verify(json.dumps(tampered).encode(), trusted)
    assert not result.ok and "does not verify" in result.reason and result.document is None
    stranger = signing.sign(payload, provenance.PAYLOAD_TYPE,
                            signing.load_signer(f"file:{signing_keys['stranger'][0]}"))
    result = signing.verify(stranger, trusted)
    assert not result.ok and "does not verify" in result.reason
    result = signing.verify(json.dumps(dict(good, signatures=[])).encode(), trusted)
    assert (result.ok, result.reason) == (False, "unsigned")
    assert signing.verify(b"not json", trusted).reason.startswith("not a DSSE envelope")


def test_bad_key_input_names_the_file(tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(InputError, match="bad.key"):
        signing.load_signer(f"file:{bad}")
    with pytest.raises(InputError, match="unknown scheme"):
        signing.load_signer("vault:x")
    with pytest.raises(InputError, match="public key"):
        signing.load_signer("azurekms:https://vault.example/keys/k")
