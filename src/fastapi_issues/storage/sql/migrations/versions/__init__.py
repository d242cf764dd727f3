"""The revisions of the `issues` branch, one file each (Alembic skips this one)."""
