"""Which binary values are pictures a browser may show: PNG, JPEG, GIF and WebP, known by
their first bytes alone (never by a file name, and never SVG, which can carry script), up
to a size worth sending as a preview."""

from __future__ import annotations

IMAGE_PREVIEW_BYTES = 5 * 1024 * 1024


def image_type(data: bytes) -> str | None:
    """The Content-Type of `data` when its magic bytes say PNG, JPEG, GIF or WebP; None for
    anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def preview_type(value: object) -> str | None:
    """The Content-Type of a stored value the pages show as a picture: bytes of a sniffed
    image format, at most IMAGE_PREVIEW_BYTES long; None for anything else."""
    if not isinstance(value, bytes | bytearray | memoryview):
        return None
    if len(value) > IMAGE_PREVIEW_BYTES:
        return None
    return image_type(bytes(value[:16]))
