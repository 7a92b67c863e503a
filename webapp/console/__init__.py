"""The SQL console: read-only statements typed by the people the configuration trusts with
them, each run recorded, and saved queries with bound parameters."""
