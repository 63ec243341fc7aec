import pytest

from lifecycle.errors import InputError
from lifecycle.registry.reference import parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:5000/team/app:v1", ("127.0.0.1:5000", "team/app", "v1", None)),
    ("myreg.azurecr.io/app", ("myreg.azurecr.io", "app", None, None)),
    (f"localhost/app@{DIGEST}", ("localhost", "app", None, DIGEST)),
    (f"reg.io:443/a/b/c:tag-1.0_x@{DIGEST}", ("reg.io:443", "a/b/c", "tag-1.0_x", DIGEST)),
    ("[::1]:5000/app:v", ("[::1]:5000", "app", "v", None)),
])
def test_parse(text, expected):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected
    assert str(ref) == text
    assert ref.ref == (expected[3] or expected[2])


@pytest.mark.parametrize("text, fragment", [
    ("app:v1", "expected host"),
    ("reg.io/App:v1", "invalid repository"),
    ("reg.io/app:-bad", "invalid tag"),
    ("reg.io/app@sha256:123", "invalid digest"),
    ("", "empty"),
])
def test_parse_rejects(text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_reference(text)


def test_default_registry_and_require_ref():
    assert parse_reference("team/app:v", default_registry="r.io").registry == "r.io"
    with pytest.raises(InputError, match="names no tag or digest"):
        parse_reference("r.io/team/app", require_ref=True)


def test_with_tag_and_digest():
    ref = parse_reference("r.io/app:v1")
    assert str(ref.with_tag("v2")) == "r.io/app:v2"
    assert str(ref.with_digest(DIGEST)) == f"r.io/app@{DIGEST}"
    with pytest.raises(InputError):
        ref.with_tag("bad tag")
