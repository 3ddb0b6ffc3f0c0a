class SecretUnavailable(Exception):
    """The store could not answer: a key is missing, a ciphertext does not decrypt,
    or the vault is down. Callers fail closed and never fall back."""

    def __init__(self, secret_id: str, reason: str) -> None:
        self.secret_id = secret_id
        self.reason = reason
        super().__init__(f"secret {secret_id} is unavailable: {reason}")


class SecretConflict(Exception):
    """Error raised when the secret changed after the caller read it.

    Nothing was written. The caller reloads the row and decides again.
    """

    def __init__(self, secret_id: str) -> None:
        self.secret_id = secret_id
        super().__init__(
            f"secret {secret_id} was changed by someone else; reload it and retry"
        )
