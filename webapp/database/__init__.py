"""Talking to the database: the engines' lifecycle and the per-request session, what a
failure means, what differs between MySQL/MariaDB, PostgreSQL and SQLite, the driver-level
fast path, decoding values a driver cannot read, and the bounded share of connections
expensive queries get."""
