"""The benchmark: a 1,000,000-row MariaDB table, the app and a bare reference
server under wrk load, reported as a markdown table. Run `python bench/run.py --help`."""
