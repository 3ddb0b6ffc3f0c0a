from django.apps import AppConfig


class SecretStoreConfig(AppConfig):
    name = "apps.secret_store"
    label = "secret_store"
    verbose_name = "Secret store"
