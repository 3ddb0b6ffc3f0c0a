"""Shared test helpers: a test CA, loopback upstream servers and egress fixtures."""
