"""`GET /api/health`: open to anyone, 503 naming the component that is down."""

import pytest
from rest_framework.test import APIClient

# The tests assume that nothing listens on port 1 of the loopback address, so a
# connection there is refused at once.
CLOSED_REDIS = "redis://127.0.0.1:1/0"

pytestmark = pytest.mark.django_db

PATHS = ["/api/health", "/api/health/"]


@pytest.mark.parametrize("path", PATHS)
def test_health_ok_status(path):
    response = APIClient().get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("path", PATHS)
def test_health_ok_body(path):
    assert APIClient().get(path).json()["status"] == "ok"


@pytest.mark.parametrize("component", ["database", "cache", "broker"])
def test_health_names_component(component):
    components = APIClient().get("/api/health").json()["components"]
    assert components[component] != "down"


def test_health_ignores_bad_token():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer pat_garbage")
    assert client.get("/api/health").status_code == 200


@pytest.fixture
def broken_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED_REDIS,
        }
    }


@pytest.mark.parametrize("path", PATHS)
def test_cache_down_503(broken_cache, path):
    assert APIClient().get(path).status_code == 503


def test_cache_down_named(broken_cache):
    components = APIClient().get("/api/health").json()["components"]
    assert components["cache"] == "down"


def test_cache_down_database_ok(broken_cache):
    components = APIClient().get("/api/health").json()["components"]
    assert components["database"] == "ok"


def test_cache_down_status(broken_cache):
    assert APIClient().get("/api/health").json()["status"] != "ok"


def test_cache_down_hides_url(broken_cache):
    assert CLOSED_REDIS not in APIClient().get("/api/health").content.decode()
