"""The app's own users: who is asking (signin), what they may do (roles), and their records
(users, failed sign-ins, one-time sign-in links, the audit log's table), kept in tables of
their own (under a prefix) that the data browser never shows."""
