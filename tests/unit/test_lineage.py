"""The lineage check itself: the label must name the resolved base and the layers must start with the base's."""

from __future__ import annotations

import pytest

from lifecycle.errors import OperationError
from lifecycle.build.lineage import Lineage, LineageError, check_platform, same_platform, verify
from lifecycle.catalogue.platform import Platform


def layer(n: int) -> str:
    return f"sha256:{n:064x}"


NEW_PARENT = (layer(1), layer(2))     # base + parent v2
OLD_PARENT = (layer(1), layer(9))     # base + parent v1 (what the registry's bare tag still serves)
PARENT_DIGEST = "sha256:" + "d" * 64


def lineage(image_layers, label=PARENT_DIGEST, base_layers=NEW_PARENT) -> Lineage:
    return Lineage("app-1.0-amd64", "127.0.0.1:5000/team/repo:parent-1.0-amd64", PARENT_DIGEST, label,
                   tuple(base_layers), tuple(image_layers))


def test_a_child_of_the_resolved_parent_passes():
    verify(lineage(NEW_PARENT + (layer(3),)))
    verify(lineage(NEW_PARENT))  # an image that adds no layer (only labels or ENV) is still its parent's child


def test_a_child_of_another_parent_fails_with_both_layer_lists():
    with pytest.raises(LineageError) as caught:
        verify(lineage(OLD_PARENT + (layer(3),)))
    message = str(caught.value)
    assert "lineage check failed for app-1.0-amd64" in message
    assert f"do not begin with the layers of 127.0.0.1:5000/team/repo:parent-1.0-amd64@{PARENT_DIGEST}" in message
    base_part, image_part = message.split("  image app-1.0-amd64 (3 layers):")
    assert f"1. {layer(1)}" in base_part and f"2. {layer(2)}" in base_part
    assert f"1. {layer(1)}  (= base)" in image_part
    assert f"2. {layer(9)}  (differs from base)" in image_part
    assert f"3. {layer(3)}" in image_part
    assert isinstance(caught.value, OperationError)  # publish fails the image (exit 1), descendants blocked


def test_shorter_than_the_parent_or_a_wrong_label_fails():
    with pytest.raises(LineageError, match="do not begin"):
        verify(lineage(NEW_PARENT[:1]))
    with pytest.raises(LineageError, match=r"base-digest label is sha256:e+, but this run resolved"):
        verify(lineage(NEW_PARENT + (layer(3),), label="sha256:" + "e" * 64))
    with pytest.raises(LineageError, match=r"label is \(missing\)"):
        verify(lineage(NEW_PARENT, label=None))
    with pytest.raises(LineageError, match="has no layers to compare"):
        verify(lineage(NEW_PARENT, base_layers=()))


def test_platforms_compare_with_default_variants():
    assert same_platform(Platform("linux", "arm64"), Platform("linux", "arm64", "v8"))
    assert same_platform(Platform("linux", "arm"), Platform("linux", "arm", "v7"))
    assert not same_platform(Platform("linux", "arm", "v6"), Platform("linux", "arm", "v7"))
    check_platform("x", Platform("linux", "arm", "v7"), "linux", "arm", None, "local engine")  # variant unknown
    check_platform("x", Platform("linux", "arm", "v7"), "linux", "arm", "v7", "registry")
    with pytest.raises(OperationError, match=r"x: the image config \(registry\) says linux/arm/v6, "
                                             r"the catalogue says linux/arm/v7"):
        check_platform("x", Platform("linux", "arm", "v7"), "linux", "arm", "v6", "registry")
    with pytest.raises(OperationError, match="says linux/amd64"):
        check_platform("x", Platform("linux", "arm64"), "linux", "amd64", None, "local engine")
