"""Direct HTTPS: the server side of TLS from `server.certfile`/`keyfile`."""

from __future__ import annotations

import ssl

from webapp.settings import Settings


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for serving, or None for plain HTTP."""
    if settings.certfile is None or settings.keyfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.certfile, settings.keyfile)
    return context
