"""The canary search: a known secret value looked for wherever it must not be.

A canary is searched for as written and in the encodings a leak would most
likely take: base64 (standard and URL-safe), percent-encoding and hex.
"""

import base64
from urllib.parse import quote

import redis
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection


def canary_forms(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        quote(value, safe=""),
        raw.hex(),
    ]


def assert_no_canary(text: str, where: str, value: str) -> None:
    for form in canary_forms(value):
        assert form not in text, f"the canary secret ({form[:12]}…) leaked into {where}"


def all_table_text() -> str:
    """Return every row of every table of the product, as text."""
    chunks = []
    with connection.cursor() as cursor:
        for model in django_apps.get_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - table names from models
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def _redis_value(client: redis.Redis, key: bytes) -> str:
    kind = client.type(key)
    if kind == b"string":
        return repr(client.get(key))
    if kind == b"list":
        return repr(client.lrange(key, 0, -1))
    if kind == b"hash":
        return repr(client.hgetall(key))
    if kind == b"set":
        return repr(client.smembers(key))
    if kind == b"zset":
        return repr(client.zrange(key, 0, -1))
    return ""


def redis_text() -> str:
    """Return every key and value of the test Redis database, or "" without Redis."""
    if not settings.REDIS_URL:
        return ""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return "\n".join(
            f"{key!r} {_redis_value(client, key)}"
            for key in client.scan_iter(count=500)
        )
    finally:
        client.close()
