from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, Phase, settings

POSTGRES_URL_VARIABLE = "FASTAPI_ISSUES_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VARIABLE = "FASTAPI_ISSUES_REQUIRE_POSTGRES"
POSTGRES_HOW_TO = (
    f"set {POSTGRES_URL_VARIABLE} to run the PostgreSQL tests, e.g. "
    f"{POSTGRES_URL_VARIABLE}=postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

_skipped_postgres_tests: list[str] = []


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a PostgreSQL database the tests may create schemas and databases in."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(POSTGRES_HOW_TO)
    return url


def _postgres_required() -> bool:
    if os.environ.get(REQUIRE_POSTGRES_VARIABLE) == "1":
        return True
    return bool(os.environ.get("CI")) and bool(os.environ.get(POSTGRES_URL_VARIABLE))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Whatever needs the database is a PostgreSQL test, marked or not.
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "postgres" in report.keywords:
        _skipped_postgres_tests.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_postgres_tests and _postgres_required():
        terminalreporter.section("PostgreSQL tests skipped", red=True)
        terminalreporter.line(
            f"{len(_skipped_postgres_tests)} PostgreSQL test(s) were skipped, but "
            f"{REQUIRE_POSTGRES_VARIABLE}=1 (or CI with {POSTGRES_URL_VARIABLE}) requires them "
            f"to run: {POSTGRES_HOW_TO}"
        )
        for nodeid in _skipped_postgres_tests[:20]:
            terminalreporter.line(f"  {nodeid}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_postgres_tests and _postgres_required() and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
async def postgres_schema(postgres_url: str) -> AsyncIterator[str]:
    """A schema name of this test's own in the PostgreSQL database, dropped afterwards."""
    from sqlalchemy.ext.asyncio import create_async_engine

    schema = f"test_{uuid.uuid4().hex[:16]}"
    yield schema
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await engine.dispose()


@pytest.fixture
async def postgres_database(postgres_url: str) -> AsyncIterator[str]:
    """The URL of a PostgreSQL database of this test's own, dropped afterwards: for stores
    that keep their tables in the default schema, as apps do."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"fastapi_issues_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()


# `--hypothesis-profile=long` for the model-based suite's runs by hand (docs/storage.md);
# `noshrink` reports the first failure as found, unshrunk, for a quick look.
settings.register_profile(
    "long",
    max_examples=2_000,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The lowest-versions CI step (.ci/run): the same rules on the oldest releases we allow,
# fewer sequences: at the full counts, the model-based suite took 18 of its 25 minutes.
settings.register_profile(
    "floor",
    max_examples=20,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "noshrink",
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
