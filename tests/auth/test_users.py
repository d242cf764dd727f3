"""The user stores that ship with the package: the contract, and what is particular to each."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from fastapi_issues.auth.stores import InMemoryUserStore, JSONFileUserStore
from fastapi_issues.auth.urls import open_user_store
from fastapi_issues.auth.users import (
    UserInDB,
    UserRegistration,
    UserStoreNotFound,
    UserUpdate,
)
from fastapi_issues.storage.errors import CorruptStoreError
from fastapi_issues.storage.protocols import StoreLifecycle
from fastapi_issues.storage.urls import StoreURL, close_store, prepare_store
from fastapi_issues.testing import UserStoreContract

Seed = Callable[[Sequence[UserInDB]], Awaitable[None]]


class TestInMemoryUserStore(UserStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryUserStore:
        return InMemoryUserStore()

    @pytest.fixture
    def seed_colliding_users(self, store: InMemoryUserStore) -> Seed:
        async def seed(users: Sequence[UserInDB]) -> None:
            store._users = {**store._users, **{user.username: user for user in users}}

        return seed


def seed_json_file(store: JSONFileUserStore) -> Seed:
    """Writes users as an old file holds them: past the check `create` makes."""

    async def seed(users: Sequence[UserInDB]) -> None:
        def add(records: dict[str, UserInDB]) -> None:
            records.update({user.username: user for user in users})

        await store._file.write(add)

    return seed


class TestJSONFileUserStore(UserStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[JSONFileUserStore]:
        store = JSONFileUserStore(tmp_path / "users.json")
        yield store
        store.close()

    @pytest.fixture
    def seed_colliding_users(self, store: JSONFileUserStore) -> Seed:
        return seed_json_file(store)


class TestJSONFileUserStoreReopened(UserStoreContract):
    """Each write goes through a second store on the same file, as another process would."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[object]:
        path = tmp_path / "users.json"
        writer = JSONFileUserStore(path)
        reader = JSONFileUserStore(path)

        class SplitStore:
            create = writer.create
            update = writer.update
            get = reader.get
            list = reader.list
            seed = staticmethod(seed_json_file(writer))

        yield SplitStore()
        writer.close()
        reader.close()

    @pytest.fixture
    def seed_colliding_users(self, store: Any) -> Seed:
        return store.seed  # type: ignore[no-any-return]


def user(name: str = "ada", hashed: str = "stored-hash-1") -> UserInDB:
    return UserInDB(username=name, hashed_password=SecretStr(hashed))


pytestmark = pytest.mark.anyio


async def test_json_file_records_are_the_crash_course_shape_and_survive_reopening(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.json"
    store = JSONFileUserStore(path)
    await store.create(
        UserInDB(
            username="johndoe",
            full_name="John Doe",
            email="johndoe@example.com",
            hashed_password=SecretStr("stored-hash-1"),
        )
    )
    store.close()
    assert json.loads(path.read_text()) == {
        "format": "fastapi-issues.users",
        "version": 2,
        "records": [
            {
                "username": "johndoe",
                "email": "johndoe@example.com",
                "full_name": "John Doe",
                "disabled": False,
                "hashed_password": "stored-hash-1",
            }
        ],
    }
    reopened = JSONFileUserStore(path)
    assert (await reopened.get("johndoe")).full_name == "John Doe"
    reopened.close()


async def test_json_file_reads_the_crash_course_records(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(
        json.dumps([{"username": "johndoe", "hashed_password": "stored-hash-1", "disabled": None}])
    )
    store = JSONFileUserStore(path)
    johndoe = await store.get("johndoe")
    assert (johndoe.disabled, johndoe.email) == (False, None)
    store.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
async def test_json_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    store = JSONFileUserStore(path)
    await store.create(user())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # Also when an existing, world-readable file is rewritten.
    path.chmod(0o644)
    await store.update("ada", UserUpdate(disabled=True))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    store.close()


async def test_json_file_store_sees_other_processes_changes(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    app_side = JSONFileUserStore(path)
    await app_side.create(user())
    cli_side = JSONFileUserStore(path)
    await cli_side.update("ada", UserUpdate(disabled=True))
    assert (await app_side.get("ada")).disabled is True
    app_side.close()
    cli_side.close()


def test_corrupt_users_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text('[{"username": "ada"}]')
    with pytest.raises(CorruptStoreError, match=r"users\.json"):
        JSONFileUserStore(path)
    assert path.read_text() == '[{"username": "ada"}]'


def test_open_user_store_puts_users_beside_the_issues_file(tmp_path: Path) -> None:
    issues = tmp_path / "data" / "issues.json"
    for url in (str(issues), f"json://{issues}"):
        store = open_user_store(url)
        assert isinstance(store, JSONFileUserStore)
        assert store.path == tmp_path / "data" / "users.json"
        store.close()
    assert isinstance(open_user_store("memory://"), InMemoryUserStore)


def test_open_user_store_refuses_unknown_schemes_and_missing_stores(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ftp"):
        open_user_store("ftp://host/issues.json")
    with pytest.raises(UserStoreNotFound, match=r"users\.json"):
        open_user_store(str(tmp_path / "issues.json"), create=False)
    assert not (tmp_path / "users.json").exists()
    assert not (tmp_path / "users.json.lock").exists()


def test_open_user_store_takes_a_parsed_url(tmp_path: Path) -> None:
    store = open_user_store(StoreURL.parse(f"json://{tmp_path / 'issues.json'}"))
    assert isinstance(store, JSONFileUserStore)
    assert store.path == tmp_path / "users.json"
    store.close()
    with pytest.raises(UserStoreNotFound, match=r"no SQLite database at .*users\.db"):
        open_user_store(StoreURL.parse(f"sqlite:///{tmp_path / 'users.db'}"), create=False)


def test_open_user_store_names_the_extra_a_missing_driver_is_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "aiosqlite", None)
    with pytest.raises(ValueError, match=r"sqlite stores need the 'sql' extra \(aiosqlite is"):
        open_user_store(f"sqlite:///{tmp_path / 'issues.db'}")


@pytest.mark.anyio
async def test_every_shipped_user_store_opens_and_closes_through_the_protocol(
    tmp_path: Path,
) -> None:
    for url in ("memory://", str(tmp_path / "issues.json"), f"sqlite:///{tmp_path / 'i.db'}"):
        store = open_user_store(url)
        assert isinstance(store, StoreLifecycle)
        await prepare_store(store)
        await store.list()
        await close_store(store)
    assert (tmp_path / "i.db").exists()


def test_stored_user_hides_its_hash_and_public_drops_it() -> None:
    stored = user(hashed="stored-hash-secretive")
    assert "stored-hash-secretive" not in repr(stored)
    assert "stored-hash-secretive" not in stored.model_dump_json()
    assert stored.public().model_dump() == {
        "username": "ada",
        "email": None,
        "full_name": None,
        "disabled": False,
        "is_admin": False,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", ""),
        ("username", "has space"),
        ("username", "-leading-dash"),
        ("username", "x" * 65),
        ("email", "not-an-email"),
        ("password", "short"),
        ("password", "x" * 1025),
    ],
)
def test_registration_refuses_bad_fields(field: str, value: str) -> None:
    data = {"username": "ada", "password": "long enough", field: value}
    with pytest.raises(ValidationError) as caught:
        UserRegistration.model_validate(data)
    assert caught.value.errors()[0]["loc"] == (field,)


def test_registration_accepts_good_fields() -> None:
    registration = UserRegistration(
        username="ada.lovelace+1@example.com",
        password=SecretStr("long enough"),
        email="ada@example.com",
        full_name="Ada",
    )
    assert registration.password.get_secret_value() == "long enough"
    assert "long enough" not in repr(registration)


WRITER = """
import asyncio, sys
from pydantic import SecretStr
from fastapi_issues.auth.stores import JSONFileUserStore
from fastapi_issues.auth.users import UserInDB, UserUpdate

async def main(path, worker):
    store = JSONFileUserStore(path)
    for n in range(10):
        name = f"w{worker}-u{n}"
        await store.create(UserInDB(username=name, hashed_password=SecretStr("stored-hash")))
        await store.update(name, UserUpdate(full_name=f"User {n} of {worker}"))
    store.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.slow
def test_many_processes_writing_one_users_file_lose_nothing(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "users.json"
    workers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(worker)])
        for worker in range(4)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0, 0]
    records = json.loads(path.read_text())["records"]
    assert len(records) == 40
    assert {r["username"]: r["full_name"] for r in records} == {
        f"w{w}-u{n}": f"User {n} of {w}" for w in range(4) for n in range(10)
    }
