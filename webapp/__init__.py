"""webapp: an async, server-rendered browser and editor for the records of any
MySQL/MariaDB, PostgreSQL or SQLite database."""

from webapp.app import create_app
from webapp.settings import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings"]
