"""lifecycle: keep a fleet of build/test container images fresh, safe and easy to consume."""

__version__ = "0.1.0"
