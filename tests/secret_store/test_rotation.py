"""`manage.py rotate_encryption_key`: batches, resumption, damaged rows, canaries,
the audit event, and tool calls that keep working while a rotation runs."""

import base64
import io
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from apps.audit.models import AuditEvent
from apps.secret_store import local, rotation
from apps.secret_store.canary import canary_ensure_newest
from apps.secret_store.checks import encryption_key_check
from apps.secret_store.keys import parse_key
from apps.secret_store.models import KeyCanary, StoredSecret
from apps.secret_store.store import secret_store
from tests.conftest import skip_or_fail
from tests.execution.conftest import build_app, setup_document, tool_document

KEY_1 = os.urandom(32).hex()
KEY_2 = os.urandom(32).hex()
KEY_1_ID = parse_key(KEY_1).key_id
KEY_2_ID = parse_key(KEY_2).key_id
# 18 characters, so the base64 of every value starts with this prefix's base64.
CANARY = "sk_live_CANARY_rot"
TOOL_SECRET = f"{CANARY}_tool_7f3a9c"
EVENT = "secrets.key_rotated"
DOMAIN = "api.allowed.example"


def secret_forms() -> list[str]:
    """Return text that would show a key or a stored value leaking."""
    forms = [CANARY, CANARY.encode().hex()]
    forms.append(base64.b64encode(CANARY.encode()).decode())
    for key in (KEY_1, KEY_2):
        material = bytes.fromhex(key)
        forms.append(key)
        forms.append(key.upper())
        forms.append(base64.b64encode(material).decode().rstrip("="))
        forms.append(base64.urlsafe_b64encode(material).decode().rstrip("="))
    return forms


@dataclass
class Run:
    stdout: str
    stderr: str
    error: CommandError | None


class Rotator:
    """Run the command with captured output and search everything it left."""

    def __init__(self, caplog) -> None:
        self.caplog = caplog
        self.outputs: list[str] = []

    def __call__(self, *args: str) -> Run:
        stdout, stderr = io.StringIO(), io.StringIO()
        error = None
        try:
            call_command("rotate_encryption_key", *args, stdout=stdout, stderr=stderr)
        except CommandError as raised:
            error = raised
        run = Run(stdout.getvalue(), stderr.getvalue(), error)
        self.outputs += [run.stdout, run.stderr, str(error or "")]
        return run

    def leaks(self) -> list[str]:
        """Return each secret form found in output, logs or audit rows."""
        events = list(AuditEvent.objects.values())
        texts = [*self.outputs, self.caplog.text, json.dumps(events, default=str)]
        return [form for form in secret_forms() if any(form in t for t in texts)]


@pytest.fixture
def rotate(caplog) -> Rotator:
    caplog.set_level(logging.DEBUG)
    return Rotator(caplog)


@pytest.fixture
def key_list(settings):
    def configure(*keys: str) -> None:
        settings.SECOND_TOKEN_ENCRYPTION_KEY = ",".join(keys)

    return configure


def make_secrets(count: int, workspaces: int = 4, purposes: int = 5) -> dict:
    """Bulk-create `count` local rows under the newest key and return {id: value}."""
    workspace_ids = [uuid.uuid4() for _ in range(workspaces)]
    rows = []
    expected = {}
    for index in range(count):
        workspace_id = workspace_ids[index % workspaces]
        purpose = f"integration-grant:{index % purposes}:API_KEY"
        value = f"{CANARY}_{index:05d}"
        key_id, ciphertext = local.encrypt(
            workspace_id=workspace_id, purpose=purpose, value=value
        )
        row = StoredSecret(
            id=uuid.uuid4(),
            workspace_id=workspace_id,
            purpose=purpose,
            backend=StoredSecret.Backend.LOCAL,
            key_id=key_id,
            ciphertext=ciphertext,
        )
        rows.append(row)
        expected[row.pk] = value
    StoredSecret.objects.bulk_create(rows, batch_size=1000)
    canary_ensure_newest()
    return expected


def rows_on(key_id: str) -> int:
    return StoredSecret.objects.filter(key_id=key_id).count()


def read_all(ids) -> dict:
    store = secret_store()
    return {row.pk: store.read(row) for row in StoredSecret.objects.filter(pk__in=ids)}


def error_ids(messages) -> list[str]:
    return [message.id for message in messages if message.is_serious()]


def snapshot() -> list[tuple]:
    return list(
        StoredSecret.objects.order_by("pk").values_list(
            "pk", "key_id", "ciphertext", "version", "updated_at"
        )
    )


def rotation_events():
    return AuditEvent.objects.filter(event_name=EVENT)


# Ten thousand rows from key 1 to key 2.


@pytest.fixture
def ten_thousand(db, key_list) -> dict:
    key_list(KEY_1)
    expected = make_secrets(10_000)
    key_list(KEY_2, KEY_1)
    return expected


@pytest.fixture
def resumed(ten_thousand, rotate) -> tuple[Run, Run]:
    """Five batches, then a second run without a limit."""
    return rotate("--max-batches", "5"), rotate()


def test_limited_run_rotates_five_batches(ten_thousand, rotate):
    run = rotate("--max-batches", "5")

    assert run.error is None
    assert rows_on(KEY_2_ID) == 2500
    assert rows_on(KEY_1_ID) == 7500
    assert f"{KEY_2_ID} (newest): 2500" in run.stdout
    assert f"{KEY_1_ID} (older): 7500" in run.stdout
    assert f"Key {KEY_1_ID} still has 7500 row(s)" in run.stdout
    assert "again to resume" in run.stdout
    assert rotate.leaks() == []


def test_limited_run_takes_lowest_ids(ten_thousand, rotate):
    rotate("--max-batches", "5")

    lowest = sorted(ten_thousand)[:2500]
    rotated = StoredSecret.objects.filter(key_id=KEY_2_ID).values_list("pk", flat=True)
    assert sorted(rotated) == lowest


def test_resumed_run_moves_every_row(resumed, rotate):
    _, second = resumed

    assert second.error is None
    assert rows_on(KEY_2_ID) == 10_000
    assert rows_on(KEY_1_ID) == 0
    assert not KeyCanary.objects.filter(key_id=KEY_1_ID).exists()
    assert KeyCanary.objects.filter(key_id=KEY_2_ID).exists()
    assert f"{KEY_1_ID} (older): 0" in second.stdout
    assert f"Key {KEY_1_ID} has no rows left" in second.stdout
    assert "can now be removed from SECOND_TOKEN_ENCRYPTION_KEY" in second.stdout
    assert rotate.leaks() == []


def test_old_key_removable_after_rotation(ten_thousand, resumed, key_list, rotate):
    assert read_all(ten_thousand) == ten_thousand

    key_list(KEY_2)

    assert error_ids(encryption_key_check()) == []
    assert read_all(ten_thousand) == ten_thousand
    assert rotate.leaks() == []


def test_progress_bar_on_stderr(ten_thousand, rotate):
    run = rotate("--max-batches", "1")

    assert "Re-encrypting" in run.stderr
    assert "500/10000" in run.stderr


# Dry run and the audit event.


@pytest.fixture
def fifty(db, key_list) -> dict:
    key_list(KEY_1)
    expected = make_secrets(50)
    key_list(KEY_2, KEY_1)
    return expected


def test_dry_run_changes_nothing(fifty, rotate):
    before = snapshot()
    canaries = list(KeyCanary.objects.values_list("key_id", "ciphertext"))

    run = rotate("--dry-run")

    assert snapshot() == before
    assert list(KeyCanary.objects.values_list("key_id", "ciphertext")) == canaries
    assert "50 row(s) would be re-encrypted" in run.stdout
    assert f"{KEY_1_ID} (older): 50" in run.stdout
    assert rotate.leaks() == []


def test_dry_run_writes_no_event(fifty, rotate):
    rotate("--dry-run")

    assert AuditEvent.objects.count() == 0


def test_run_writes_one_event(fifty, rotate):
    rotate()

    assert rotation_events().count() == 1
    assert AuditEvent.objects.count() == 1


def test_event_on_global_chain(fifty, rotate):
    rotate()

    event = rotation_events().get()
    assert event.workspace_id is None
    assert event.actor_kind == "system"
    assert event.actor_display == "manage.py rotate_encryption_key"
    assert event.source_trust == "ops_cli"
    assert event.outcome == "success"


def test_event_metadata_counts_rows(fifty, rotate):
    rotate("--batch-size", "20")

    metadata = rotation_events().get().metadata
    assert metadata["newestKeyId"] == KEY_2_ID
    assert metadata["rowsRewritten"] == 50
    assert metadata["rowsFailed"] == 0
    assert metadata["remainingRowsByKeyId"] == {KEY_1_ID: 0}
    assert metadata["batches"] == 3
    assert metadata["complete"] is True
    assert metadata["removedCanaryKeyIds"] == [KEY_1_ID]


def test_partial_event_counts_remaining(fifty, rotate):
    rotate("--batch-size", "20", "--max-batches", "1")

    metadata = rotation_events().get().metadata
    assert metadata["remainingRowsByKeyId"] == {KEY_1_ID: 30}
    assert metadata["complete"] is False


def test_event_hides_keys_and_values(fifty, rotate):
    rotate()

    event = rotation_events().get()
    text = json.dumps([event.summary, event.metadata, event.target_id])
    assert [form for form in secret_forms() if form in text] == []
    assert rotate.leaks() == []


# Old keys stay required until no row names them.


def test_check_fails_before_completion(fifty, rotate, key_list):
    rotate("--batch-size", "10", "--max-batches", "2")
    key_list(KEY_2)

    messages = encryption_key_check()
    text = " ".join(message.msg for message in messages)
    assert "secret_store.E002" in error_ids(messages)
    assert KEY_1_ID in text
    assert [form for form in secret_forms() if form in text] == []


def test_run_releases_canary_only_key(db, key_list, rotate):
    """A key whose canary is the only thing naming it is released by a run."""
    key_list(KEY_1)
    canary_ensure_newest()
    key_list(KEY_2, KEY_1)

    rotate()
    key_list(KEY_2)

    assert error_ids(encryption_key_check()) == []


def test_single_key_nothing_to_do(db, key_list, rotate):
    key_list(KEY_1)
    make_secrets(10)
    before = snapshot()

    run = rotate()

    assert run.error is None
    assert snapshot() == before
    assert "Re-encrypted 0 row(s) in 0 batch(es)" in run.stdout
    assert "Every local row is on the newest key." in run.stdout
    assert rotate.leaks() == []


def test_rows_without_ciphertext_untouched(fifty, rotate):
    empty = StoredSecret.objects.create(
        workspace_id=uuid.uuid4(), purpose="test:empty", backend="local"
    )
    vault = StoredSecret.objects.create(
        workspace_id=uuid.uuid4(),
        purpose="test:vault",
        backend=StoredSecret.Backend.WORKOS,
        vault_object_id="secret_object_1",
    )

    run = rotate()

    assert run.error is None
    assert StoredSecret.objects.get(pk=empty.pk).key_id == ""
    assert StoredSecret.objects.get(pk=vault.pk).key_id == ""


# Rows that do not decrypt.


def flip_last_bit(ciphertext: str) -> str:
    head, _, encoded = ciphertext.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    raw[-1] ^= 0x01
    return f"{head}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


DAMAGE = {
    "flipped bit": flip_last_bit,
    "cut base64": lambda text: text.rpartition(".")[0] + ".AAAAA",
    "short nonce": lambda text: text.rpartition(".")[0] + ".AAAAAAAA",
    "wrong purpose": None,
}


@pytest.fixture(params=sorted(DAMAGE))
def damaged(request, fifty) -> StoredSecret:
    """One of the fifty rows, damaged so that it does not decrypt."""
    row = StoredSecret.objects.order_by("pk")[17]
    damage = DAMAGE[request.param]
    if damage is None:
        StoredSecret.objects.filter(pk=row.pk).update(purpose="test:moved")
    else:
        StoredSecret.objects.filter(pk=row.pk).update(ciphertext=damage(row.ciphertext))
    return StoredSecret.objects.get(pk=row.pk)


def test_damaged_row_fails_command(damaged, rotate):
    run = rotate("--batch-size", "7")

    assert isinstance(run.error, CommandError)
    assert str(damaged.pk) in str(run.error)
    assert f"does not decrypt: row {damaged.pk}" in run.stdout
    assert rotate.leaks() == []


def test_damaged_row_left_unchanged(damaged, rotate):
    rotate("--batch-size", "7")

    after = StoredSecret.objects.get(pk=damaged.pk)
    assert after.ciphertext == damaged.ciphertext
    assert after.key_id == KEY_1_ID
    assert after.updated_at == damaged.updated_at


def test_damaged_row_others_rotate(fifty, damaged, rotate):
    run = rotate("--batch-size", "7")

    others = set(fifty) - {damaged.pk}
    expected = {pk: value for pk, value in fifty.items() if pk in others}
    assert rows_on(KEY_2_ID) == 49
    assert read_all(others) == expected
    assert "in 8 batch(es)" in run.stdout


def test_damaged_row_keeps_old_canary(damaged, rotate, key_list):
    rotate()

    assert KeyCanary.objects.filter(key_id=KEY_1_ID).exists()
    key_list(KEY_2)
    assert "secret_store.E002" in error_ids(encryption_key_check())


def test_damaged_row_event_names_id(damaged, rotate):
    rotate()

    metadata = rotation_events().get().metadata
    assert metadata["rowsFailed"] == 1
    assert metadata["failedRowIds"] == [str(damaged.pk)]
    assert metadata["complete"] is False
    assert rotation_events().get().outcome == "failure"


def test_unlisted_key_row_fails(fifty, rotate, key_list):
    """A row under a key the list lacks is reported, not dropped."""
    key_3 = os.urandom(32).hex()
    key_list(key_3)
    (row_id,) = make_secrets(1)
    key_list(KEY_2, KEY_1)

    run = rotate()

    key_3_id = parse_key(key_3).key_id
    assert isinstance(run.error, CommandError)
    assert str(row_id) in str(run.error)
    assert f"{key_3_id} (not in SECOND_TOKEN_ENCRYPTION_KEY): 1" in run.stdout
    assert f"Key {key_3_id} is not in SECOND_TOKEN_ENCRYPTION_KEY" in run.stdout
    assert rows_on(KEY_2_ID) == 50
    assert key_3 not in run.stdout


def test_interrupted_run_is_audited(fifty, rotate, monkeypatch):
    real_batch = rotation.rotate_batch
    calls = []

    def second_batch_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(rotation, "rotate_batch", second_batch_fails)

    with pytest.raises(RuntimeError):
        call_command(
            "rotate_encryption_key", "--batch-size", "20", stdout=io.StringIO()
        )

    metadata = rotation_events().get().metadata
    assert metadata["interrupted"] is True
    assert metadata["rowsRewritten"] == 20
    assert metadata["remainingRowsByKeyId"] == {KEY_1_ID: 30}
    assert rotate.leaks() == []


@pytest.mark.parametrize("option", ["--max-batches", "--batch-size"])
def test_zero_option_rejected(fifty, rotate, option):
    run = rotate(option, "0")

    assert isinstance(run.error, CommandError)
    assert "less than 1" in str(run.error)
    assert rows_on(KEY_1_ID) == 50


# Versions count value changes, which rotation does not make.


def test_rotation_keeps_version(db, key_list, rotate):
    key_list(KEY_1)
    store = secret_store()
    workspace_id = uuid.uuid4()
    first = store.put(workspace_id=workspace_id, purpose="test:a", value=f"{CANARY}1")
    second = store.put(workspace_id=workspace_id, purpose="test:b", value=f"{CANARY}2")
    store.rotate(second, value=f"{CANARY}3")
    key_list(KEY_2, KEY_1)

    rotate()

    versions = dict(StoredSecret.objects.values_list("pk", "version"))
    assert versions == {first.pk: 1, second.pk: 2}
    assert rows_on(KEY_2_ID) == 2
    assert rotate.leaks() == []


def test_rotation_updates_timestamp(fifty, rotate):
    before = dict(StoredSecret.objects.values_list("pk", "updated_at"))

    rotate()

    after = dict(StoredSecret.objects.values_list("pk", "updated_at"))
    assert [pk for pk in before if after[pk] <= before[pk]] == []


# Concurrent writers and tool calls, on PostgreSQL.


@pytest.mark.django_db(transaction=True)
def test_batch_skips_row_being_replaced(key_list):
    """An admin's replacement that has locked its row is not overwritten."""
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL")
    key_list(KEY_1)
    make_secrets(5)
    key_list(KEY_2, KEY_1)
    canary_ensure_newest()
    target = StoredSecret.objects.order_by("pk").first()
    replacement = f"{CANARY}_replacement"
    locked = threading.Event()
    release = threading.Event()

    def replace_in_thread() -> None:
        try:
            with transaction.atomic():
                row = StoredSecret.objects.get(pk=target.pk)
                secret_store().rotate(row, value=replacement)
                locked.set()
                # Bounded, so a batch that waits for this lock still ends.
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=replace_in_thread)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        result = rotation.rotate_batch(500)
    finally:
        release.set()
        thread.join(timeout=60)

    after = StoredSecret.objects.get(pk=target.pk)
    assert result.rewritten == 4
    assert result.failed_ids == ()
    assert secret_store().read(after) == replacement
    assert after.version == 2
    assert after.key_id == KEY_2_ID


def secret_tool() -> dict:
    headers = {"Authorization": "Bearer {{secrets.API_KEY}}"}
    return tool_document(
        url=f"https://{DOMAIN}/echo", domain=DOMAIN, endpoint={"headers": headers}
    )


@pytest.mark.django_db(transaction=True)
def test_tool_calls_during_rotation(world, upstream, key_list, rotate, monkeypatch):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL")
    key_list(KEY_1)
    built = build_app(
        world,
        secret_tool(),
        setup=setup_document(DOMAIN),
        secrets={"API_KEY": TOOL_SECRET},
    )
    make_secrets(3000)
    key_list(KEY_2, KEY_1)

    # The first batch waits after its commit until ten calls have run, so those
    # calls see a half-rotated table. The other ten run alongside later batches.
    paused = threading.Event()
    resume = threading.Event()
    real_batch = rotation.rotate_batch

    def batch_then_pause(*args, **kwargs):
        result = real_batch(*args, **kwargs)
        if not paused.is_set():
            paused.set()
            resume.wait(timeout=60)
        return result

    monkeypatch.setattr(rotation, "rotate_batch", batch_then_pause)
    runs: list[Run] = []
    crashes: list[str] = []

    def rotate_in_thread() -> None:
        try:
            runs.append(rotate("--batch-size", "100"))
        except BaseException as error:
            crashes.append(repr(error))
        finally:
            connections.close_all()

    thread = threading.Thread(target=rotate_in_thread)
    thread.start()
    try:
        assert paused.wait(timeout=60)
        rotated_at_pause = rows_on(KEY_2_ID)
        answers = [built.call() for _ in range(10)]
    finally:
        resume.set()
    answers += [built.call() for _ in range(10)]
    thread.join(timeout=300)

    assert not thread.is_alive()
    assert rotated_at_pause == 100
    assert [answer.status_code for answer in answers] == [200] * 20
    assert [answer.json()["mock"] for answer in answers] == [False] * 20
    sent = [request.headers["authorization"] for request in upstream.requests]
    assert sent == [f"Bearer {TOOL_SECRET}"] * 20
    assert crashes == []
    assert runs[0].error is None
    assert rows_on(KEY_1_ID) == 0

    key_list(KEY_2)
    after = built.call()
    assert after.status_code == 200
    assert upstream.requests[-1].headers["authorization"] == f"Bearer {TOOL_SECRET}"
    texts = [answer.content.decode() for answer in [*answers, after]]
    assert [text for text in texts if TOOL_SECRET in text] == []
    assert rotate.leaks() == []
