"""Fixtures live in tests/fixtures/<topic>.py, each a pytest plugin; every one found there is loaded."""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (Path(__file__).parent / "fixtures").glob("*.py") if p.stem != "__init__"
)
