"""A loopback OAuth 2.0 and OpenID Connect provider for tests.

It is a separate Django project built on django-oauth-toolkit, started as a
subprocess by tests/support/oauth_server.py and never part of the product's
INSTALLED_APPS. `serve.py` is its entry point.
"""
