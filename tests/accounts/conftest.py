"""Accounts that sign in with a canary password, and a browser with a user agent."""

import logging

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.workspaces.services import workspace_create
from tests.audit.catalogue_support import CANARY

USER_AGENT = "sign-in-tests/1.0"
# A password typed into the username box, which must leave no trace either.
USERNAME_CANARY = "canary-Pasted-Qw8zR3nT5yLs"
# A wrong password typed for an existing account.
WRONG_PASSWORD = "canary-Wrong-Hb6cJ2dF8gKm"
CANARIES = (CANARY, USERNAME_CANARY, WRONG_PASSWORD)


@pytest.fixture
def browser() -> Client:
    return Client(headers={"User-Agent": USER_AGENT})


@pytest.fixture
def owner(db) -> User:
    """An account with the canary password that owns a workspace, so admin opens."""
    user = User.objects.create_user("signin-owner", password=CANARY)
    workspace_create(owner=user, name="Sign-in", slug="sign-in")
    return user


@pytest.fixture
def bystander(db) -> User:
    """An account with the canary password and no workspace, so no admin access."""
    return User.objects.create_user("signin-bystander", password=CANARY)


@pytest.fixture
def all_logs(caplog):
    """Capture every log record at DEBUG, Django's own loggers included.

    Django's loggers do not propagate to the root logger in these settings, so
    the capture handler is attached to them directly.
    """
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    django_loggers = [logging.getLogger(name) for name in ("django", "django.server")]
    for django_logger in django_loggers:
        django_logger.addHandler(caplog.handler)
    yield caplog
    for django_logger in django_loggers:
        django_logger.removeHandler(caplog.handler)
