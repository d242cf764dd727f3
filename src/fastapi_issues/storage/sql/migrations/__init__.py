"""The Alembic environment of fastapi-issues' tables (`env.py`) and the `issues` branch's
revisions (`versions/`). Alembic loads these files by path; nothing imports them."""
