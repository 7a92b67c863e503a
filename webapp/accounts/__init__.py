"""The app's own records: its users, failed sign-ins and one-time sign-in links, kept in
tables of their own (under a prefix) that the data browser never shows."""
