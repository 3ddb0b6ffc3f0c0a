class SecretUnavailable(Exception):
    """The store could not answer: a key is missing, a ciphertext does not decrypt,
    or the vault is down. Callers fail closed and never fall back."""

    def __init__(self, secret_id: str, reason: str) -> None:
        self.secret_id = secret_id
        self.reason = reason
        super().__init__(f"secret {secret_id} is unavailable: {reason}")
