"""`manage.py reap_tool_calls`: mark lost tool calls and expire stale queued ones.

Prints `lost N` and `expired M`, the rows this run changed. Safe to run while
workers and other reapers run: every change is a conditional update.
"""

from django.core.management.base import BaseCommand

from apps.execution.reaper import tool_calls_reap


class Command(BaseCommand):
    help = (
        "Mark tool calls running past the wait and the task time limit as lost, "
        "and expire queued calls that were never picked up."
    )

    def handle(self, *args: object, **options: object) -> None:
        counts = tool_calls_reap()
        self.stdout.write(f"lost {counts.lost}")
        self.stdout.write(f"expired {counts.expired}")
