"""Egress test configuration: no real DNS in these tests.

The shared fixtures come from tests.support.egress_fixtures, which
tests/conftest.py registers as a pytest plugin.
"""

import pytest


@pytest.fixture(autouse=True)
def _no_real_dns(block_real_dns: None) -> None:
    """Fail any egress test that would send a real DNS query."""
