"""Where records live: SQLAlchemy models, the database connection, Alembic migrations, and the scope
rule in SQL (`scope.py`, the only place that writes it).

Storage imports the core only; only `engine.service` imports storage (an import-linter contract).
"""
