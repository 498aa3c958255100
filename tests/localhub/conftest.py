"""Offer the shared localhub fixtures (tests/support/localhub.py) to these tests."""

from tests.support.localhub import localhub, localhub_factory  # noqa: F401
