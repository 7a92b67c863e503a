"""webapp: an async, server-rendered browser and editor for the records of any
MySQL/MariaDB, PostgreSQL or SQLite database. The app factory is `webapp.app.create_app`;
this package imports nothing, so the command line loads only what a command needs."""
