from auditlog.models import LogEntry
from django.contrib import admin

# django-auditlog's diffs show only inside workspace-scoped pages, never in a
# global list.
if admin.site.is_registered(LogEntry):
    admin.site.unregister(LogEntry)
