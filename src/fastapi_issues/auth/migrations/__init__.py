"""The revisions of the `users` branch (`SQLUserStore`'s table), one file each. Alembic
loads them by path, beside the `issues` branch of `fastapi_issues.storage.sql`; they
import neither package, so the issue store can read them without the auth extra."""
