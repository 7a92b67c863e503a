"""Kinds of one backend's own column types and value quirks, registered ahead of the
generic rules for that backend."""

from __future__ import annotations
