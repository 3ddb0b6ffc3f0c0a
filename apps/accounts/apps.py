from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth import signals

        from apps.accounts import sign_in_audit

        signals.user_logged_in.connect(
            sign_in_audit.on_user_logged_in, dispatch_uid="accounts.sign_in"
        )
        signals.user_login_failed.connect(
            sign_in_audit.on_user_login_failed, dispatch_uid="accounts.sign_in_failed"
        )
        signals.user_logged_out.connect(
            sign_in_audit.on_user_logged_out, dispatch_uid="accounts.sign_out"
        )
