from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        # Importing the actor module connects its Celery signal handlers.
        from apps.audit import actor  # noqa: F401
        from apps.audit.diffs import register_governed_models

        register_governed_models()
