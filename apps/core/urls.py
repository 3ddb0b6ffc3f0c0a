"""Route helpers: every API route answers with and without a trailing slash."""

from django.urls import path


def api_path(route: str, view, name: str | None = None) -> list:
    """Return the route in both forms, so `/x` and `/x/` reach the same view."""
    route = route.rstrip("/")
    return [path(route, view, name=name), path(f"{route}/", view)]
