"""Chain verification, the verify_audit_chain command and retention checkpoints."""

import importlib
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import User
from apps.audit import chain as chain_module
from apps.audit import retention, services
from apps.audit.chain import (
    CONTENT_CHANGED,
    LINK_BROKEN,
    MISSING_AFTER_HEAD,
    MISSING_HEAD,
    SEQUENCE_GAP,
    SIGNATURE_INVALID,
    chain_verify,
)
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.retention import retention_apply
from apps.audit.services import Actor, AuditEntry, audit_record
from apps.audit.tasks import apply_retention
from apps.workspaces.models import Workspace

# A fixed reference time: retention runs "now" and events are recorded before it.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)


@pytest.fixture
def workspace(db):
    """A workspace created without the service, so its chain has no events yet."""
    return Workspace.objects.create(name="Chain", slug="chain")


@pytest.fixture
def clock(monkeypatch):
    """Return a setter for the time at which the audit writer records events."""

    def set_time(when: datetime) -> None:
        monkeypatch.setattr(services, "timezone", SimpleNamespace(now=lambda: when))

    return set_time


def record(workspace, count: int, prefix: str = "event") -> None:
    for index in range(count):
        audit_record(
            workspace=workspace,
            entry=AuditEntry(
                event_name="app.created",
                outcome="success",
                summary=f"{prefix} {index}",
                actor=Actor(kind="user", id="user-1", display="Ada"),
                metadata={"index": index},
            ),
        )


def chain(workspace) -> list[AuditEvent]:
    scope = {"workspace": workspace} if workspace else {"workspace__isnull": True}
    return list(AuditEvent.objects.filter(**scope).order_by("sequence"))


def verify(workspace):
    return chain_verify(workspace_id_or_none=workspace.pk if workspace else None)


def expect_break(report, sequence: int, event_id, problem: str) -> None:
    assert report.broken.sequence == sequence
    assert report.broken.event_id == event_id
    assert report.broken.problem == problem


def checkpoints(workspace) -> list[AuditEvent]:
    return [e for e in chain(workspace) if e.event_name == "audit.checkpoint"]


def rows(workspace) -> list[tuple]:
    return [(e.pk, e.sequence, e.hash, e.metadata) for e in chain(workspace)]


# Verification.


def test_fresh_chain_intact(workspace):
    record(workspace, 3)
    assert verify(workspace).intact


def test_fresh_chain_counts_events(workspace):
    record(workspace, 3)
    assert verify(workspace).count == 3


def test_workspace_without_chain_named(workspace):
    expect_break(verify(workspace), 1, None, MISSING_HEAD)


def test_changed_content_named(workspace):
    record(workspace, 3)
    changed = chain(workspace)[1]
    AuditEvent.objects.filter(pk=changed.pk).update(summary="rewritten")
    expect_break(verify(workspace), 2, str(changed.pk), CONTENT_CHANGED)


def test_changed_previous_hash_named(workspace):
    record(workspace, 3)
    changed = chain(workspace)[2]
    AuditEvent.objects.filter(pk=changed.pk).update(previous_hash="0" * 64)
    expect_break(verify(workspace), 3, str(changed.pk), CONTENT_CHANGED)


def test_deleted_middle_names_next(workspace):
    record(workspace, 4)
    events = chain(workspace)
    AuditEvent.objects.filter(pk=events[1].pk).delete()
    expect_break(verify(workspace), 3, str(events[2].pk), SEQUENCE_GAP)


def test_deleted_first_names_next(workspace):
    record(workspace, 3)
    events = chain(workspace)
    AuditEvent.objects.filter(pk=events[0].pk).delete()
    expect_break(verify(workspace), 2, str(events[1].pk), SEQUENCE_GAP)


def test_deleted_tail_detected(workspace):
    record(workspace, 3)
    AuditEvent.objects.filter(pk=chain(workspace)[2].pk).delete()
    expect_break(verify(workspace), 3, None, MISSING_AFTER_HEAD)


def test_deleted_all_detected(workspace):
    record(workspace, 2)
    AuditEvent.objects.filter(workspace=workspace).delete()
    expect_break(verify(workspace), 1, None, MISSING_AFTER_HEAD)


def test_replaced_event_breaks_link(workspace):
    record(workspace, 3)
    forged = chain(workspace)[1]
    forged.summary = "forged"
    forged.hash = services.event_digest(forged)
    forged.save()
    expect_break(verify(workspace), 3, str(chain(workspace)[2].pk), LINK_BROKEN)


def test_changed_head_hash_detected(workspace):
    record(workspace, 2)
    AuditChainHead.objects.filter(workspace=workspace).update(last_hash="0" * 64)
    expect_break(verify(workspace), 2, None, SIGNATURE_INVALID)


def test_event_past_head_detected(workspace):
    record(workspace, 2)
    stray = chain(workspace)[1]
    stray.id, stray.sequence, stray.previous_hash = uuid.uuid4(), 3, stray.hash
    stray.hash = services.event_digest(stray)
    stray.save(force_insert=True)
    expect_break(verify(workspace), 3, str(stray.pk), LINK_BROKEN)


def test_walk_spans_chunks(workspace, monkeypatch):
    monkeypatch.setattr(chain_module, "CHUNK_SIZE", 2)
    record(workspace, 5)
    changed = chain(workspace)[3]
    AuditEvent.objects.filter(pk=changed.pk).update(summary="rewritten")
    expect_break(verify(workspace), 4, str(changed.pk), CONTENT_CHANGED)


def test_chains_verify_independently(workspace):
    other = Workspace.objects.create(name="Other", slug="other-chain")
    record(workspace, 2)
    record(other, 2)
    AuditEvent.objects.filter(pk=chain(other)[0].pk).update(summary="rewritten")
    assert verify(workspace).intact


# The command.


def test_command_prints_intact(workspace):
    record(workspace, 2)
    output = StringIO()
    call_command("verify_audit_chain", "--workspace", "chain", stdout=output)
    assert "intact: 2 events" in output.getvalue()


def test_command_accepts_workspace_id(workspace):
    record(workspace, 1)
    output = StringIO()
    call_command("verify_audit_chain", "--workspace", str(workspace.pk), stdout=output)
    assert "intact" in output.getvalue()


def test_command_names_broken_event(workspace):
    record(workspace, 3)
    changed = chain(workspace)[1]
    AuditEvent.objects.filter(pk=changed.pk).update(summary="rewritten")
    with pytest.raises(CommandError) as error:
        call_command("verify_audit_chain", "--workspace", "chain")
    assert f"sequence 2, event {changed.pk}" in str(error.value)


def test_command_break_exits_nonzero(workspace):
    record(workspace, 2)
    AuditEvent.objects.filter(pk=chain(workspace)[0].pk).update(summary="x")
    with pytest.raises(CommandError) as error:
        call_command("verify_audit_chain", "--workspace", "chain")
    assert error.value.returncode == 1


def test_command_unknown_workspace(db):
    with pytest.raises(CommandError, match="no-such"):
        call_command("verify_audit_chain", "--workspace", "no-such")


def test_command_needs_a_chain(db):
    with pytest.raises(CommandError):
        call_command("verify_audit_chain")


def test_command_verifies_global(db):
    record(None, 2)
    output = StringIO()
    call_command("verify_audit_chain", "--global", stdout=output)
    assert "Audit chain global is intact" in output.getvalue()


def test_command_global_break_named(db):
    record(None, 2)
    changed = chain(None)[0]
    AuditEvent.objects.filter(pk=changed.pk).update(summary="rewritten")
    with pytest.raises(CommandError, match=str(changed.pk)):
        call_command("verify_audit_chain", "--global")


# Retention.


@pytest.fixture
def aged(workspace, clock):
    """A chain of two old events, a recent one, then one more old event."""
    clock(OLD)
    record(workspace, 2, prefix="old")
    clock(RECENT)
    record(workspace, 1, prefix="recent")
    clock(OLD)
    record(workspace, 1, prefix="late old")
    return chain(workspace)


def test_retention_removes_expired_prefix(workspace, aged):
    assert retention_apply(now=NOW) == 2


def test_retention_keeps_later_old_event(workspace, aged):
    retention_apply(now=NOW)
    assert "late old 0" in [event.summary for event in chain(workspace)]


def test_retention_removes_prefix_rows(workspace, aged):
    retention_apply(now=NOW)
    removed = {aged[0].pk, aged[1].pk}
    assert not AuditEvent.objects.filter(pk__in=removed).exists()


def test_retention_keeps_rest_unchanged(workspace, aged):
    later_rows = [(e.pk, e.hash) for e in aged[2:]]
    retention_apply(now=NOW)
    assert [(e.pk, e.hash) for e in chain(workspace)[1:]] == later_rows


def test_retention_writes_one_checkpoint(workspace, aged):
    retention_apply(now=NOW)
    assert len(checkpoints(workspace)) == 1


def test_checkpoint_is_first_event(workspace, aged):
    retention_apply(now=NOW)
    assert chain(workspace)[0].event_name == "audit.checkpoint"


def test_checkpoint_replaces_last_removed(workspace, aged):
    retention_apply(now=NOW)
    checkpoint = checkpoints(workspace)[0]
    assert checkpoint.sequence == 2
    assert checkpoint.hash == aged[1].hash


def test_checkpoint_metadata_names_removed(workspace, aged):
    retention_apply(now=NOW)
    metadata = checkpoints(workspace)[0].metadata
    assert metadata["removedThroughSequence"] == 2
    assert metadata["removedCount"] == 2


def test_checkpoint_occurs_at_run(workspace, aged):
    retention_apply(now=NOW)
    assert checkpoints(workspace)[0].occurred_at == NOW


def test_chain_verifies_after_retention(workspace, aged):
    retention_apply(now=NOW)
    assert verify(workspace).intact


def test_report_starts_at_checkpoint(workspace, aged):
    retention_apply(now=NOW)
    assert "from the checkpoint at sequence 2" in verify(workspace).describe()


def test_appends_after_retention_verify(workspace, aged):
    retention_apply(now=NOW)
    record(workspace, 2, prefix="new")
    assert verify(workspace).intact


def test_second_retention_removes_nothing(workspace, aged):
    retention_apply(now=NOW)
    assert retention_apply(now=NOW) == 0


def test_second_retention_changes_nothing(workspace, aged):
    retention_apply(now=NOW)
    before = rows(workspace)
    retention_apply(now=NOW)
    assert rows(workspace) == before


def test_nothing_expired_changes_nothing(workspace):
    record(workspace, 3)
    before = rows(workspace)
    retention_apply(now=NOW - timedelta(days=1000))
    assert rows(workspace) == before


def test_recent_first_event_blocks(workspace, clock):
    clock(RECENT)
    record(workspace, 1, prefix="recent")
    clock(OLD)
    record(workspace, 2, prefix="old")
    assert retention_apply(now=NOW) == 0


def test_all_expired_leaves_checkpoint(workspace, clock):
    clock(OLD)
    record(workspace, 3)
    retention_apply(now=NOW)
    assert [event.event_name for event in chain(workspace)] == ["audit.checkpoint"]


def test_all_expired_verifies(workspace, clock):
    clock(OLD)
    record(workspace, 3)
    retention_apply(now=NOW)
    assert verify(workspace).intact


def test_all_expired_then_append_verifies(workspace, clock):
    clock(OLD)
    record(workspace, 3)
    retention_apply(now=NOW)
    record(workspace, 1, prefix="new")
    assert verify(workspace).intact


def test_later_round_replaces_checkpoint(workspace, aged, clock):
    retention_apply(now=NOW)
    clock(NOW + timedelta(days=1))
    record(workspace, 1, prefix="next")
    retention_apply(now=NOW + timedelta(days=800))
    assert len(checkpoints(workspace)) == 1


def test_later_round_verifies(workspace, aged, clock):
    retention_apply(now=NOW)
    retention_apply(now=NOW + timedelta(days=800))
    record(workspace, 1, prefix="next")
    assert verify(workspace).intact


def test_changed_checkpoint_detected(workspace, aged):
    retention_apply(now=NOW)
    checkpoint = checkpoints(workspace)[0]
    AuditEvent.objects.filter(pk=checkpoint.pk).update(summary="rewritten")
    expect_break(verify(workspace), 2, str(checkpoint.pk), SIGNATURE_INVALID)


def test_checkpoint_hash_change_detected(workspace, aged):
    retention_apply(now=NOW)
    checkpoint = checkpoints(workspace)[0]
    AuditEvent.objects.filter(pk=checkpoint.pk).update(hash="0" * 64)
    expect_break(verify(workspace), 2, str(checkpoint.pk), LINK_BROKEN)


def test_checkpoint_in_middle_rejected(workspace, aged):
    retention_apply(now=NOW)
    AuditEvent.objects.filter(pk=aged[2].pk).update(event_name="audit.checkpoint")
    expect_break(verify(workspace), 3, str(aged[2].pk), CONTENT_CHANGED)


def test_broken_prefix_kept(workspace, aged):
    AuditEvent.objects.filter(pk=aged[0].pk).update(summary="rewritten")
    assert retention_apply(now=NOW) == 0


def test_broken_prefix_still_reported(workspace, aged):
    AuditEvent.objects.filter(pk=aged[0].pk).update(summary="rewritten")
    retention_apply(now=NOW)
    expect_break(verify(workspace), 1, str(aged[0].pk), CONTENT_CHANGED)


def test_retention_leaves_other_chains(workspace, aged, clock):
    other = Workspace.objects.create(name="Other", slug="other-chain")
    clock(RECENT)
    record(other, 2)
    before = rows(other)
    retention_apply(now=NOW)
    assert rows(other) == before


def test_task_applies_retention(workspace, aged, monkeypatch):
    monkeypatch.setattr(retention, "timezone", SimpleNamespace(now=lambda: NOW))
    assert apply_retention() == 2


# The global chain.


@pytest.fixture
def aged_global(db, clock):
    clock(OLD)
    record(None, 2, prefix="old")
    clock(RECENT)
    record(None, 1, prefix="recent")
    return chain(None)


def test_global_fresh_intact(aged_global):
    assert verify(None).intact


def test_global_change_named(aged_global):
    changed = aged_global[1]
    AuditEvent.objects.filter(pk=changed.pk).update(summary="rewritten")
    expect_break(verify(None), 2, str(changed.pk), CONTENT_CHANGED)


def test_global_tail_detected(aged_global):
    AuditEvent.objects.filter(pk=aged_global[2].pk).delete()
    expect_break(verify(None), 3, None, MISSING_AFTER_HEAD)


def test_global_retention_removes_prefix(aged_global):
    assert retention_apply(now=NOW) == 2


def test_global_checkpoint_has_no_workspace(aged_global):
    retention_apply(now=NOW)
    assert checkpoints(None)[0].workspace_id is None


def test_global_verifies_after_retention(aged_global):
    retention_apply(now=NOW)
    record(None, 1, prefix="new")
    assert verify(None).intact


# Signatures: what a database writer without the secret key cannot forge.

ATTACKER_KEY = "a-key-the-attacker-guessed-not-the-deployment-key"


def test_changed_id_detected(workspace):
    record(workspace, 3)
    changed = chain(workspace)[1]
    new_id = uuid.uuid4()
    AuditEvent.objects.filter(pk=changed.pk).update(id=new_id)
    expect_break(verify(workspace), 2, str(new_id), CONTENT_CHANGED)


def forge_checkpoint(workspace, settings) -> AuditEvent:
    """Remove the first two of four recent events and leave a checkpoint built
    as retention builds one, but under a key that is not the deployment's."""
    record(workspace, 4)
    remaining = chain(workspace)[2:]
    prefix = retention.expired_prefix(
        workspace_id_or_none=workspace.pk, before=remaining[0].occurred_at
    )
    head = AuditChainHead.objects.get(workspace=workspace)
    real_key = settings.SECRET_KEY

    settings.SECRET_KEY = ATTACKER_KEY
    forged = retention._checkpoint(head, prefix, NOW, NOW)
    settings.SECRET_KEY = real_key

    chain_module.chain_events(workspace.pk).filter(sequence__lte=2).delete()
    forged.save(force_insert=True)
    return forged


def test_forged_checkpoint_detected(workspace, settings):
    forged = forge_checkpoint(workspace, settings)
    expect_break(verify(workspace), 2, str(forged.pk), SIGNATURE_INVALID)


def test_forged_checkpoint_command_names_it(workspace, settings):
    forged = forge_checkpoint(workspace, settings)
    with pytest.raises(CommandError, match=str(forged.pk)):
        call_command("verify_audit_chain", "--workspace", str(workspace.pk))


def test_head_moved_back_detected(workspace):
    """The last event deleted and the head row pointed at the one before."""
    record(workspace, 3)
    events = chain(workspace)
    AuditEvent.objects.filter(pk=events[2].pk).delete()
    AuditChainHead.objects.filter(workspace=workspace).update(
        last_sequence=2, last_hash=events[1].hash
    )
    expect_break(verify(workspace), 2, None, SIGNATURE_INVALID)


def test_old_key_verifies_as_fallback(workspace, aged, settings):
    retention_apply(now=NOW)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-next-deployment-key-after-rotation"
    assert verify(workspace).intact


def test_dropped_old_key_breaks_checkpoint(workspace, aged, settings):
    retention_apply(now=NOW)
    checkpoint = checkpoints(workspace)[0]
    settings.SECRET_KEY = "the-next-deployment-key-after-rotation"
    expect_break(verify(workspace), 2, str(checkpoint.pk), SIGNATURE_INVALID)


def test_new_events_sign_with_new_key(workspace, settings):
    record(workspace, 2)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-next-deployment-key-after-rotation"
    record(workspace, 1, prefix="after rotation")
    settings.SECRET_KEY_FALLBACKS = []
    assert verify(workspace).intact


def test_migration_signs_existing_heads(workspace):
    from django.apps import apps as installed_apps

    migration = importlib.import_module(
        "apps.audit.migrations.0002_chain_head_signature"
    )
    record(workspace, 2)
    AuditChainHead.objects.filter(workspace=workspace).update(signature="")

    migration.sign_existing_heads(installed_apps, None)

    assert verify(workspace).intact


# Chains removed whole, and rows that cannot be hashed.


def remove_chain(workspace) -> None:
    chain_module.chain_events(workspace.pk if workspace else None).delete()
    scope = str(workspace.pk) if workspace else "global"
    AuditChainHead.objects.filter(scope=scope).delete()


def test_wiped_workspace_chain_named(workspace):
    record(workspace, 3)
    remove_chain(workspace)
    expect_break(verify(workspace), 1, None, MISSING_HEAD)


def test_wiped_global_chain_named(world):
    record(None, 2)
    User.objects.filter(pk=world.owner.user.pk).update(last_login=NOW)
    remove_chain(None)
    expect_break(verify(None), 1, None, MISSING_HEAD)


def test_global_chain_absent_before_signin(db):
    assert not User.objects.filter(last_login__isnull=False).exists()
    assert verify(None).intact


@pytest.mark.parametrize(
    ("column", "value"),
    [("summary", b"ABCD"), ("occurred_at", None), ("metadata", {b"key": 1})],
)
def test_unreadable_column_named(workspace, column, value):
    record(workspace, 2)
    events = chain(workspace)
    setattr(events[1], column, value)

    broken = chain_module._walk(events).broken

    assert (broken.sequence, broken.problem) == (2, CONTENT_CHANGED)
    assert broken.event_id == str(events[1].pk)
