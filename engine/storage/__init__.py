"""Where records live: SQLAlchemy models, the database connection and Alembic migrations.

Storage imports the core model only, never the web layer or renderers.
"""
