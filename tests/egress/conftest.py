"""Egress test configuration: the shared fixtures, and no real DNS in these tests."""

import pytest

# TODO: remove this import once tests/conftest.py lists
# "tests.support.egress_fixtures" in pytest_plugins.
from tests.support.egress_fixtures import *  # noqa: F403


@pytest.fixture(autouse=True)
def _no_real_dns(block_real_dns: None) -> None:
    """Fail any egress test that would send a real DNS query."""
