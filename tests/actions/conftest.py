"""Offer the shared localhub fixtures (tests/support/localhub.py) to these tests."""

from tests.flows.conftest import diabetes_seed, diabetes_v1, hub  # noqa: F401
from tests.support.localhub import localhub, localhub_factory  # noqa: F401
