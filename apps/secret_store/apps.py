from django.apps import AppConfig


class SecretStoreConfig(AppConfig):
    name = "apps.secret_store"
    label = "secret_store"
    verbose_name = "Secret store"

    def ready(self) -> None:
        from apps.secret_store import checks  # noqa: F401 - registers the check
