"""publish.yml run for real: a manual run publishes the fleet, a merge publishes what it changed."""

from __future__ import annotations

import json

import pytest

from lifecycle.sample import CHILD, MULTISTAGE, PARENT, SOLO, TAGBASES

pytestmark = [pytest.mark.pipelines, pytest.mark.e2e]


def test_manual_run_publishes_every_image(pipeline_fleet) -> None:
    run = pipeline_fleet.manual
    run.assert_succeeded()
    for tagbase in TAGBASES:
        assert pipeline_fleet.digest(f"{tagbase}-staging"), tagbase
