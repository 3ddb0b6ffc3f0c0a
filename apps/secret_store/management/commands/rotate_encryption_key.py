"""`manage.py rotate_encryption_key [--dry-run] [--max-batches N] [--batch-size N]`.

Re-encrypts the local store's rows under the newest key of
SECOND_TOKEN_ENCRYPTION_KEY and prints the rows per key id. An older key can
leave the list once the report shows no row on it. Each batch commits, so a run
stopped by --max-batches or an interruption resumes on the next run. Exits
non-zero, naming the row ids, when a row does not decrypt.
"""

import argparse

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.audit.services import Actor, Source
from apps.secret_store.rotation import (
    DEFAULT_BATCH_SIZE,
    BatchResult,
    KeyUsage,
    RotationResult,
    key_rotation_run,
    key_usage,
)

COMMAND = "manage.py rotate_encryption_key"
# The error message names at most this many failed row ids. The report on
# stdout lists them all.
MAX_IDS_IN_ERROR = 20


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


class _ProgressStream:
    """A file-like view of a command's OutputWrapper that adds no line endings,
    so tqdm can redraw its bar in place."""

    def __init__(self, wrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, ending="")

    def flush(self) -> None:
        self._wrapper.flush()


class Command(BaseCommand):
    help = (
        "Re-encrypt the local secret store's rows under the newest key of "
        "SECOND_TOKEN_ENCRYPTION_KEY and report the rows left per key id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the rows per key id and how many would be re-encrypted, "
            "and change nothing.",
        )
        parser.add_argument(
            "--max-batches",
            type=positive_int,
            default=None,
            metavar="N",
            help="Stop after N batches. The next run resumes where this one "
            "stopped. Default: run until no row is left.",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Rows re-encrypted per transaction. Default: {DEFAULT_BATCH_SIZE}.",
        )

    def handle(self, *args: object, **options: object) -> None:
        usage = key_usage()
        if options["dry_run"]:
            self._write_usage(usage)
            self.stdout.write(
                f"Dry run: {usage.rows_to_rewrite} row(s) would be re-encrypted "
                f"under key {usage.newest_key_id}. Nothing was changed."
            )
            return

        result = self._rotate(usage, options)

        self._write_usage(result.usage)
        self._write_outcome(result, options)
        if result.failed_ids:
            raise CommandError(_failure_message(result.failed_ids))

    def _rotate(self, usage: KeyUsage, options: dict) -> RotationResult:
        progress = tqdm(
            total=usage.rows_to_rewrite,
            desc="Re-encrypting",
            unit="row",
            file=_ProgressStream(self.stderr),
            disable=options["verbosity"] == 0,
        )

        def advance(batch: BatchResult) -> None:
            progress.update(batch.examined)

        with progress:
            return key_rotation_run(
                actor=Actor.system(COMMAND),
                source=Source.for_command(),
                batch_size=options["batch_size"],
                max_batches=options["max_batches"],
                on_batch=advance,
            )

    def _write_usage(self, usage: KeyUsage) -> None:
        self.stdout.write(f"Newest key: {usage.newest_key_id}")
        self.stdout.write("Rows per key id:")
        for key_id, rows in usage.rows_by_key_id.items():
            if key_id == usage.newest_key_id:
                label = "newest"
            elif usage.is_configured(key_id):
                label = "older"
            else:
                label = "not in SECOND_TOKEN_ENCRYPTION_KEY"
            self.stdout.write(f"  {key_id} ({label}): {rows}")
        canaries = ", ".join(usage.canary_key_ids) or "none"
        self.stdout.write(f"Key canaries: {canaries}")

    def _write_outcome(self, result: RotationResult, options: dict) -> None:
        self.stdout.write(
            f"Re-encrypted {result.rewritten} row(s) in {result.batches} batch(es); "
            f"{len(result.failed_ids)} did not decrypt."
        )
        for row_id in result.failed_ids:
            self.stdout.write(f"  does not decrypt: row {row_id}")

        usage = result.usage
        for key_id, rows in usage.old_key_rows.items():
            self.stdout.write(_key_advice(usage, key_id, rows))

        # Rows that failed this run stay on their old keys; any beyond them were
        # not reached, because of --max-batches or a concurrent lock.
        if result.complete:
            self.stdout.write("Every local row is on the newest key.")
        elif usage.rows_to_rewrite > len(result.failed_ids):
            self.stdout.write(
                "Rows remain on older keys: keep those keys in "
                "SECOND_TOKEN_ENCRYPTION_KEY and run "
                f"`{COMMAND}{_resume_options(options)}` again to resume."
            )


def _key_advice(usage: KeyUsage, key_id: str, rows: int) -> str:
    if not rows:
        return (
            f"Key {key_id} has no rows left: it can now be removed from "
            "SECOND_TOKEN_ENCRYPTION_KEY."
        )
    if not usage.is_configured(key_id):
        return (
            f"Key {key_id} is not in SECOND_TOKEN_ENCRYPTION_KEY, but {rows} row(s) "
            "name it: add it back after the newest key and run again."
        )
    return (
        f"Key {key_id} still has {rows} row(s): it must stay in "
        "SECOND_TOKEN_ENCRYPTION_KEY."
    )


def _resume_options(options: dict) -> str:
    text = ""
    if options["batch_size"] != DEFAULT_BATCH_SIZE:
        text += f" --batch-size {options['batch_size']}"
    if options["max_batches"] is not None:
        text += f" --max-batches {options['max_batches']}"
    return text


def _failure_message(failed_ids: tuple[str, ...]) -> str:
    listed = ", ".join(failed_ids[:MAX_IDS_IN_ERROR])
    more = len(failed_ids) - MAX_IDS_IN_ERROR
    if more > 0:
        listed += f" and {more} more listed above"
    return (
        f"{len(failed_ids)} row(s) did not decrypt and were left unchanged: "
        f"{listed}. Restore their ciphertext or the key they name, or replace "
        "their values, then run the command again."
    )
