"""Parsing ACR's tag listing entries (the documented "Tag - Get List" shape), without a registry."""

from __future__ import annotations

import datetime as dt

from lifecycle.registry.acr import TagDetail

SAMPLE = {  # one entry of the documented sample response
    "name": "4.7.2-20180905-nanoserver-1803",
    "digest": "sha256:110d2b6c84592561338aa040b1b14b7ab81c2f9edbd564c2285dd7d70d777086",
    "createdTime": "2018-09-06T06:17:21.0856539Z",
    "lastUpdateTime": "2018-09-06T06:17:21.0856539Z",
    "signed": False,
    "changeableAttributes": {"deleteEnabled": True, "writeEnabled": True, "readEnabled": True, "listEnabled": True},
}


def test_documented_entry_parses_with_seven_fractional_digits():
    detail = TagDetail.from_json(SAMPLE)
    assert detail.name == SAMPLE["name"] and detail.digest == SAMPLE["digest"]
    assert detail.created == dt.datetime(2018, 9, 6, 6, 17, 21, 85653, tzinfo=dt.timezone.utc)
    assert detail.updated == detail.created
    assert not detail.locked and detail.write_enabled


def test_delete_disabled_is_locked_and_missing_attributes_are_not():
    locked = TagDetail.from_json({**SAMPLE, "changeableAttributes": {"deleteEnabled": False, "writeEnabled": False}})
    assert locked.locked and not locked.write_enabled
    bare = TagDetail.from_json({"name": "t", "digest": "sha256:" + "0" * 64})
    assert not bare.locked and bare.created is None
