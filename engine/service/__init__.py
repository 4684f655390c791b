"""What the web app and the command line do with records, users and the audit log.

This layer composes the core (evaluation, workflow, policy) with storage; the web layer and the
CLI call it and never touch the database themselves.
"""
