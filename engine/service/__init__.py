"""The use cases: what the web app and the command line do with records, users, the audit log and
demo data.

This layer composes the core (evaluation, workflow, policy) with storage, one use case per function,
each inside the caller's transaction; the web layer and the CLI call it and never touch the database
themselves (import-linter contracts check both).
"""
