"""The samples of the Upgrading page (docs/upgrading.md)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fastapi_issues.cli import main
from tests.docs.conftest import LoadExample


def test_autogenerate_leaves_our_tables_alone(load_example: LoadExample, tmp_path: Path) -> None:
    """upgrading/alembic_env.py: with its filter, a host's autogenerate sees only its own."""
    module = load_example("upgrading/alembic_env.py")
    url = f"sqlite:///{tmp_path / 'app.db'}"
    assert main(["db", "upgrade", "--url", url]) == 0
    host = sa.MetaData()
    sa.Table("orders", host, sa.Column("id", sa.Integer, primary_key=True))
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            unfiltered = compare_metadata(MigrationContext.configure(conn), host)
            context = MigrationContext.configure(conn, opts={"include_name": module.include_name})
            filtered = compare_metadata(context, host)
    finally:
        engine.dispose()
    # Without the filter, autogenerate would drop every table of ours.
    assert {"issues", "users", "fastapi_issues_alembic_version"} <= {
        diff[1].name for diff in unfiltered if diff[0] == "remove_table"
    }
    assert [(diff[0], diff[1].name) for diff in filtered] == [("add_table", "orders")]
