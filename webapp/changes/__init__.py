"""Changing the user's data: form inputs parsed per value kind, every write through one
module (locked, checked against lost updates, audited), the audit trail and its typed
values, and reverting an audited change."""
