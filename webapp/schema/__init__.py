"""What the connected database holds: the reflected catalog (tables, views, columns, keys,
relations), the per-role catalogs built from it, the labels that name rows for people, and
keeping all of it in step with a schema that changes while the app runs."""
