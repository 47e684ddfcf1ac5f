"""Alembic migrations of the study database; revisions are named after releases."""
