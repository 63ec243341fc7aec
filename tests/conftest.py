"""Fixtures live in tests/fixtures/<topic>.py, each a pytest plugin; every one found there is loaded."""

from pathlib import Path

import pytest

# fixtures import each other (acr uses registry, debian uses engine): rewrite the asserts of the whole
# package whichever imports it first
pytest.register_assert_rewrite("tests.fixtures")

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (Path(__file__).parent / "fixtures").glob("*.py") if p.stem != "__init__"
)

