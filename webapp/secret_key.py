"""The server's secret key: what signs cursors and encrypts the session cookie. It comes from
WEBAPP_SECRET_KEY, or from a file generated once beside the config and kept out of git, so
that several server processes given the same key serve one user alike."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

SECRET_KEY_FILE = ".secret_key"
MIN_SECRET_LENGTH = 32


class SecretKeyError(Exception):
    """The secret key cannot be had; the message says why in one line."""


def load_secret_key(environ: Mapping[str, str], base_dir: Path) -> bytes:
    """WEBAPP_SECRET_KEY if set (at least 32 characters), else the key kept in
    `base_dir/.secret_key`, created (mode 0600) on first use."""
    given = environ.get("WEBAPP_SECRET_KEY")
    if given is not None:
        if len(given) < MIN_SECRET_LENGTH:
            raise SecretKeyError(
                f"WEBAPP_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters long"
            )
        return given.encode("utf-8")
    path = base_dir / SECRET_KEY_FILE
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretKeyError(f"{path}: cannot read the secret key ({exc})") from None
    if len(existing) >= MIN_SECRET_LENGTH:
        return existing.encode("ascii")
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
    except OSError as exc:
        raise SecretKeyError(
            f"{path}: cannot store a generated secret key ({exc.strerror}); "
            "set WEBAPP_SECRET_KEY instead"
        ) from None
    return key.encode("ascii")


def random_secret_key() -> bytes:
    """A key for one process only (tests, tools): sessions do not outlive it."""
    return secrets.token_urlsafe(48).encode("ascii")


def derive_key(secret_key: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose (`session`, `cursor`, `csrf`...), so that no two uses
    share key material."""
    return hmac.new(secret_key, purpose.encode("utf-8"), hashlib.sha256).digest()


def fernet_key(secret_key: bytes) -> bytes:
    """The session cookie's encryption key in the form Fernet expects."""
    return base64.urlsafe_b64encode(derive_key(secret_key, "session"))


def sign(secret_key: bytes, purpose: str, message: bytes) -> str:
    """A URL-safe HMAC-SHA256 signature of `message` for `purpose`."""
    digest = hmac.new(derive_key(secret_key, purpose), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(secret_key: bytes, purpose: str, message: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret_key, purpose, message), signature)
