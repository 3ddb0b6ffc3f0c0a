"""Re-encryption of the local store's ciphertexts under the newest key.

Retiring a key takes three steps: list a new key first in
SECOND_TOKEN_ENCRYPTION_KEY, re-encrypt every row that names an older key, then
drop the older key from the list. This module does the middle step in short
batches. Each batch commits on its own, so a run that stops early resumes where
it stopped. Re-encryption keeps each row's value, so it leaves `version` as it
is. Logs and audit metadata name key ids and row ids, never keys or values.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DatabaseError, connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.secret_store.canary import canary_ensure_newest
from apps.secret_store.errors import SecretUnavailable
from apps.secret_store.keys import keyring
from apps.secret_store.local import decrypt, encrypt
from apps.secret_store.models import KeyCanary, StoredSecret

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
EVENT_NAME = "secrets.key_rotated"


@dataclass(frozen=True)
class KeyUsage:
    """Local rows per key id and the key ids that have a canary.

    `rows_by_key_id` lists the configured keys first, newest first, each even
    with zero rows, then any key id that rows name but the key list lacks.
    """

    newest_key_id: str
    configured_key_ids: tuple[str, ...]
    rows_by_key_id: dict[str, int]
    canary_key_ids: tuple[str, ...]

    @property
    def old_key_rows(self) -> dict[str, int]:
        """Rows per key id for every key but the newest."""
        return {
            key_id: rows
            for key_id, rows in self.rows_by_key_id.items()
            if key_id != self.newest_key_id
        }

    @property
    def rows_to_rewrite(self) -> int:
        return sum(self.old_key_rows.values())

    def is_configured(self, key_id: str) -> bool:
        return key_id in self.configured_key_ids


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one committed batch."""

    examined: int
    rewritten: int
    failed_ids: tuple[str, ...]
    last_id: uuid.UUID | None


@dataclass(frozen=True)
class RotationResult:
    """The outcome of one run: its batches, the rows left and the canaries pruned."""

    usage: KeyUsage
    rewritten: int
    failed_ids: tuple[str, ...]
    batches: int
    removed_canary_key_ids: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """True when no local row names a key other than the newest."""
        return self.usage.rows_to_rewrite == 0


def _local_rows() -> QuerySet[StoredSecret]:
    # The same rows as the encryption-key check counts, so an empty result here
    # means that check no longer needs any older key.
    return StoredSecret.objects.filter(backend=StoredSecret.Backend.LOCAL).exclude(
        key_id=""
    )


def key_usage() -> KeyUsage:
    """Count the local rows per key id and list the key ids that have a canary."""
    configured = tuple(key.key_id for key in keyring())
    counts = dict(
        _local_rows()
        .order_by()
        .values("key_id")
        .annotate(rows=Count("pk"))
        .values_list("key_id", "rows")
    )

    rows_by_key_id = {key_id: counts.pop(key_id, 0) for key_id in configured}
    rows_by_key_id.update(sorted(counts.items()))

    canaries = tuple(
        KeyCanary.objects.order_by("key_id").values_list("key_id", flat=True)
    )
    return KeyUsage(
        newest_key_id=configured[0],
        configured_key_ids=configured,
        rows_by_key_id=rows_by_key_id,
        canary_key_ids=canaries,
    )


def _select_batch(
    newest_key_id: str, batch_size: int, after_id: uuid.UUID | None
) -> list[StoredSecret]:
    rows = _local_rows().exclude(key_id=newest_key_id).order_by("pk")
    if after_id is not None:
        rows = rows.filter(pk__gt=after_id)
    if connection.features.has_select_for_update_skip_locked:
        # The lock makes an admin's concurrent rotate() of a value wait until
        # this batch commits, so it is not overwritten by a re-encryption of
        # the old value. Rows that another transaction has locked are skipped
        # by this run and stay counted as remaining. SQLite has no row locks,
        # but it serialises writers anyway.
        rows = rows.select_for_update(skip_locked=True)
    return list(rows[:batch_size])


def _reencrypt(row: StoredSecret) -> bool:
    """Re-encrypt one row in memory under the newest key.

    Returns False, leaving the row as it was, if its ciphertext does not decrypt.
    """
    try:
        value = decrypt(
            secret_id=str(row.pk),
            workspace_id=row.workspace_id,
            purpose=row.purpose,
            ciphertext=row.ciphertext,
        )
    except (SecretUnavailable, ValueError) as error:
        # ValueError covers damaged base64 and nonces, which decrypt() does not
        # turn into SecretUnavailable. Only the row id and the key id are logged.
        logger.warning(
            "key rotation skipped a row that does not decrypt: id=%s key=%s error=%s",
            row.pk,
            row.key_id,
            type(error).__name__,
        )
        return False

    row.key_id, row.ciphertext = encrypt(
        workspace_id=row.workspace_id, purpose=row.purpose, value=value
    )
    row.updated_at = timezone.now()
    return True


def rotate_batch(
    batch_size: int = DEFAULT_BATCH_SIZE, *, after_id: uuid.UUID | None = None
) -> BatchResult:
    """Re-encrypt up to `batch_size` local rows on older keys under the newest key.

    Rows are taken in primary-key order, after `after_id` when given, and are
    rewritten in one short transaction. Rows that do not decrypt stay unchanged
    and are returned by id. `last_id` is the highest id examined, which the next
    batch of the same run starts after, so a failed row is not selected again.
    """
    newest_key_id = keyring()[0].key_id
    with transaction.atomic():
        rows = _select_batch(newest_key_id, batch_size, after_id)
        rewritten = [row for row in rows if _reencrypt(row)]
        # StoredSecret is not registered with django-auditlog and no signal
        # watches it, so a bulk write skips no per-row history. The run as a
        # whole is audited as one secrets.key_rotated event.
        StoredSecret.objects.bulk_update(
            rewritten, ["key_id", "ciphertext", "updated_at"]
        )

    rewritten_ids = {row.pk for row in rewritten}
    failed_ids = tuple(str(row.pk) for row in rows if row.pk not in rewritten_ids)
    if rows:
        logger.info(
            "key rotation batch committed: key=%s rewritten=%s failed=%s",
            newest_key_id,
            len(rewritten),
            len(failed_ids),
        )
    return BatchResult(
        examined=len(rows),
        rewritten=len(rewritten),
        failed_ids=failed_ids,
        last_id=rows[-1].pk if rows else None,
    )


def canaries_reconcile() -> tuple[str, ...]:
    """Write the newest key's canary and delete the canaries no local row needs.

    A canary of a key other than the newest is deleted once no local row names
    its key id. The encryption-key check then no longer requires that key, so
    it can leave SECOND_TOKEN_ENCRYPTION_KEY. Returns the deleted key ids.
    """
    canary_ensure_newest()

    newest_key_id = keyring()[0].key_id
    used_key_ids = _local_rows().values("key_id")
    candidates = set(
        KeyCanary.objects.exclude(key_id=newest_key_id)
        .exclude(key_id__in=used_key_ids)
        .values_list("key_id", flat=True)
    )
    # The DELETE checks the rows again, so it keeps the canary of a key that a
    # row written after the listing names.
    KeyCanary.objects.filter(key_id__in=candidates).exclude(
        key_id__in=used_key_ids
    ).delete()

    still_present = set(
        KeyCanary.objects.filter(key_id__in=candidates).values_list("key_id", flat=True)
    )
    removed = tuple(sorted(candidates - still_present))
    for key_id in removed:
        logger.info("key canary deleted: key=%s", key_id)
    return removed


@dataclass
class _RunTotals:
    batches: int = 0
    rewritten: int = 0
    failed_ids: list[str] = field(default_factory=list)


def _run_batches(
    totals: _RunTotals,
    *,
    batch_size: int,
    max_batches: int | None,
    on_batch: Callable[[BatchResult], None] | None,
) -> None:
    """Run batches until none is left or `max_batches` ran, adding to `totals`."""
    after_id = None
    while max_batches is None or totals.batches < max_batches:
        result = rotate_batch(batch_size, after_id=after_id)
        if not result.examined:
            return

        totals.batches += 1
        totals.rewritten += result.rewritten
        totals.failed_ids.extend(result.failed_ids)
        after_id = result.last_id
        if on_batch is not None:
            on_batch(result)

        # A short batch found every remaining row after `after_id`.
        if result.examined < batch_size:
            return


def _audit_entry(
    result: RotationResult, actor: Actor, source: Source, *, interrupted: bool
) -> AuditEntry:
    usage = result.usage
    failed = len(result.failed_ids)
    return AuditEntry(
        event_name=EVENT_NAME,
        outcome="failure" if failed or interrupted else "success",
        severity="warning" if failed or interrupted else "info",
        summary=f"Re-encrypted {result.rewritten} stored value(s) under key "
        f"{usage.newest_key_id}. {failed} did not decrypt and "
        f"{usage.rows_to_rewrite} remain on older keys.",
        actor=actor,
        source=source,
        target=Target(type="encryption_key", id=usage.newest_key_id),
        metadata={
            "newestKeyId": usage.newest_key_id,
            "rowsRewritten": result.rewritten,
            "rowsFailed": failed,
            "failedRowIds": list(result.failed_ids),
            "remainingRowsByKeyId": usage.old_key_rows,
            "batches": result.batches,
            "complete": result.complete,
            "interrupted": interrupted,
            "removedCanaryKeyIds": list(result.removed_canary_key_ids),
        },
    )


def _record_interrupted(totals: _RunTotals, actor: Actor, source: Source) -> None:
    """Audit the batches that committed before an error or an interrupt."""
    try:
        result = RotationResult(
            usage=key_usage(),
            rewritten=totals.rewritten,
            failed_ids=tuple(totals.failed_ids),
            batches=totals.batches,
            removed_canary_key_ids=(),
        )
        entry = _audit_entry(result, actor, source, interrupted=True)
        audit_record(workspace=None, entry=entry)
    except DatabaseError:
        # The caller raises the error that interrupted the run after this.
        logger.exception(
            "key rotation could not audit its committed batches: batches=%s",
            totals.batches,
        )


def key_rotation_run(
    *,
    actor: Actor,
    source: Source,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> RotationResult:
    """Re-encrypt local rows under the newest key in batches, then audit the run.

    Stops after `max_batches` batches when given, or when no row is left. Calls
    `on_batch` after each committed batch. Records one `secrets.key_rotated`
    event on the global audit chain, also when nothing needed re-encrypting.
    A run that raises after a committed batch records it as interrupted.
    """
    newest_key_id = keyring()[0].key_id
    logger.info(
        "key rotation started: key=%s batch_size=%s max_batches=%s",
        newest_key_id,
        batch_size,
        max_batches,
    )
    canary_ensure_newest()

    totals = _RunTotals()
    try:
        _run_batches(
            totals, batch_size=batch_size, max_batches=max_batches, on_batch=on_batch
        )
    except BaseException:
        logger.warning(
            "key rotation interrupted: key=%s batches=%s rewritten=%s",
            newest_key_id,
            totals.batches,
            totals.rewritten,
        )
        if totals.batches:
            _record_interrupted(totals, actor, source)
        raise

    removed = canaries_reconcile()
    result = RotationResult(
        usage=key_usage(),
        rewritten=totals.rewritten,
        failed_ids=tuple(totals.failed_ids),
        batches=totals.batches,
        removed_canary_key_ids=removed,
    )

    entry = _audit_entry(result, actor, source, interrupted=False)
    audit_record(workspace=None, entry=entry)
    logger.info(
        "key rotation finished: key=%s rewritten=%s failed=%s remaining=%s",
        newest_key_id,
        totals.rewritten,
        len(totals.failed_ids),
        result.usage.rows_to_rewrite,
    )
    return result
