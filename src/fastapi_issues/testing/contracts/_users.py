"""The contract of a `fastapi_issues.auth.UserStore`.

The auth extra is imported inside the tests, so this module still imports without it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from fastapi_issues.testing.contracts._base import StoreContract

if TYPE_CHECKING:
    from fastapi_issues.auth.users import UserInDB, UserStore, UserUpdate

__all__ = ["UserStoreContract"]


def _user(
    username: str = "ada",
    *,
    email: str | None = "ada@example.com",
    full_name: str | None = "Ada Lovelace",
    disabled: bool = False,
    hashed_password: str = "stored-hash-1",
) -> UserInDB:
    from fastapi_issues.auth.users import UserInDB

    return UserInDB(
        username=username,
        email=email,
        full_name=full_name,
        disabled=disabled,
        hashed_password=SecretStr(hashed_password),
    )


def _update(**changes: Any) -> UserUpdate:
    from fastapi_issues.auth.users import UserUpdate

    return UserUpdate(**changes)


class UserStoreContract(StoreContract):
    """Contract tests for a `fastapi_issues.auth.UserStore`. Override the `store` fixture
    with one that yields a fresh, empty user store, as for `IssueStoreContract`.

    Usernames are unique in their normalised form (NFKC, case-folded). Stores written
    before that may hold names that collide: override `seed_colliding_users` to run the
    tests of how a store treats them (skipped otherwise).
    """

    @pytest.fixture
    def seed_colliding_users(self, store: Any) -> Any:
        """An async function storing the users it is given into `store` as they are,
        past the check `create` makes (as an old file or table holds them)."""
        pytest.skip("override `seed_colliding_users` to test names stored before the rule")

    async def test_store_satisfies_the_protocol(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserStore

        assert isinstance(store, UserStore)

    async def test_get_returns_what_create_stored(self, store: UserStore) -> None:
        created = await store.create(_user(disabled=True, hashed_password="stored-hash-ada"))
        assert created == _user(disabled=True, hashed_password="stored-hash-ada")
        fetched = await store.get("ada")
        assert fetched == created
        assert fetched.hashed_password.get_secret_value() == "stored-hash-ada"
        assert fetched.disabled is True
        assert (fetched.email, fetched.full_name) == ("ada@example.com", "Ada Lovelace")

    async def test_optional_fields_may_be_empty(self, store: UserStore) -> None:
        await store.create(_user("bob", email=None, full_name=None))
        bob = await store.get("bob")
        assert (bob.email, bob.full_name, bob.disabled) == (None, None, False)

    async def test_text_round_trips_exactly(self, store: UserStore) -> None:
        await store.create(_user("zoe", full_name='Zoë "Z" Ðurić ✓', email="zoë@exämple.org"))
        zoe = await store.get("zoe")
        assert zoe.full_name == 'Zoë "Z" Ðurić ✓'
        assert zoe.email == "zoë@exämple.org"

    async def test_get_unknown_user_raises_not_found(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserNotFound

        with pytest.raises(UserNotFound) as caught:
            await store.get("nobody")
        assert caught.value.username == "nobody"

    async def test_names_that_differ_in_case_or_width_are_refused(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserExists

        await store.create(_user("ada"))
        # "ADA" in full-width letters normalises (NFKC) to "ADA", which folds to "ada".
        for variant in ("Ada", "ADA", "\uff21\uff24\uff21"):
            with pytest.raises(UserExists) as caught:
                await store.create(_user(variant, hashed_password="stored-hash-2"))
            assert (caught.value.username, caught.value.existing) == (variant, "ada")
        assert [u.username for u in await store.list()] == ["ada"]
        assert (await store.get("ada")).hashed_password.get_secret_value() == "stored-hash-1"

    async def test_lookups_ignore_case_and_width_and_keep_the_display_form(
        self, store: UserStore
    ) -> None:
        created = await store.create(_user("Ada.L"))
        for variant in ("Ada.L", "ada.l", "ADA.L", "\uff41\uff44\uff41.\uff4c"):
            assert await store.get(variant) == created, variant
        assert [u.username for u in await store.list()] == ["Ada.L"]

    async def test_update_by_another_form_changes_the_stored_user(self, store: UserStore) -> None:
        await store.create(_user("Ada"))
        updated = await store.update("ADA", _update(disabled=True))
        assert updated == _user("Ada", disabled=True)
        assert [(u.username, u.disabled) for u in await store.list()] == [("Ada", True)]

    async def test_concurrent_creates_of_names_alike_let_exactly_one_win(
        self, store: UserStore
    ) -> None:
        from fastapi_issues.auth.users import UserExists, UserInDB

        names = ["dup", "Dup", "DUP", "dUp", "duP", "\uff24\uff35\uff30"]
        results = await asyncio.gather(
            *(store.create(_user(name)) for name in names), return_exceptions=True
        )
        winners = [r for r in results if isinstance(r, UserInDB)]
        assert len(winners) == 1, results
        assert sum(isinstance(r, UserExists) for r in results) == len(names) - 1
        assert list(await store.list()) == winners

    async def test_colliding_old_names_are_found_exactly_and_never_guessed(
        self, store: UserStore, seed_colliding_users: Any
    ) -> None:
        from fastapi_issues.auth.users import AmbiguousUsername, UserExists, UserNotFound

        await seed_colliding_users(
            [_user("alice", hashed_password="hash-a"), _user("Alice", hashed_password="hash-b")]
        )
        # Each keeps the account it had: the exact name wins.
        assert (await store.get("alice")).hashed_password.get_secret_value() == "hash-a"
        assert (await store.get("Alice")).hashed_password.get_secret_value() == "hash-b"
        # A third form fits both: neither is picked.
        with pytest.raises(AmbiguousUsername) as caught:
            await store.get("ALICE")
        assert isinstance(caught.value, UserNotFound)
        assert caught.value.candidates == ("Alice", "alice")
        with pytest.raises(AmbiguousUsername):
            await store.update("ALICE", _update(disabled=True))
        with pytest.raises(UserExists):
            await store.create(_user("aLiCe"))
        users = await store.list()
        assert [(u.username, u.disabled) for u in users] == [("Alice", False), ("alice", False)]

    async def test_create_refuses_a_taken_username(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserExists

        await store.create(_user("ada", hashed_password="stored-hash-1"))
        with pytest.raises(UserExists) as caught:
            await store.create(_user("ada", email=None, hashed_password="stored-hash-2"))
        assert caught.value.username == "ada"
        kept = await store.get("ada")
        assert kept.hashed_password.get_secret_value() == "stored-hash-1"
        assert kept.email == "ada@example.com"

    async def test_concurrent_creates_of_one_name_let_exactly_one_win(
        self, store: UserStore
    ) -> None:
        from fastapi_issues.auth.users import UserExists, UserInDB

        results = await asyncio.gather(
            *(store.create(_user("ada", hashed_password=f"stored-hash-{n}")) for n in range(10)),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, UserInDB)]
        assert len(winners) == 1
        assert sum(isinstance(r, UserExists) for r in results) == 9
        assert await store.get("ada") == winners[0]
        assert len(await store.list()) == 1

    async def test_update_changes_only_the_fields_set(self, store: UserStore) -> None:
        await store.create(_user())
        disabled = await store.update("ada", _update(disabled=True))
        assert disabled == _user(disabled=True)
        rehashed = await store.update("ada", _update(hashed_password=SecretStr("stored-hash-2")))
        assert rehashed == _user(disabled=True, hashed_password="stored-hash-2")
        assert await store.get("ada") == rehashed

    async def test_update_can_clear_optional_fields(self, store: UserStore) -> None:
        await store.create(_user())
        cleared = await store.update("ada", _update(email=None, full_name=None))
        assert (cleared.email, cleared.full_name) == (None, None)
        assert (await store.get("ada")).email is None

    async def test_update_without_changes_keeps_the_user(self, store: UserStore) -> None:
        await store.create(_user())
        assert await store.update("ada", _update()) == _user()
        assert await store.get("ada") == _user()

    async def test_update_unknown_user_raises_not_found(self, store: UserStore) -> None:
        from fastapi_issues.auth.users import UserNotFound

        with pytest.raises(UserNotFound):
            await store.update("nobody", _update(disabled=True))
        assert list(await store.list()) == []

    async def test_concurrent_updates_of_different_fields_are_all_kept(
        self, store: UserStore
    ) -> None:
        # A login re-hashing a password while an admin disables the user: neither may
        # undo the other.
        await store.create(_user())
        await asyncio.gather(
            store.update("ada", _update(hashed_password=SecretStr("stored-hash-2"))),
            store.update("ada", _update(disabled=True)),
            store.update("ada", _update(full_name="Countess of Lovelace")),
        )
        assert await store.get("ada") == _user(
            disabled=True, hashed_password="stored-hash-2", full_name="Countess of Lovelace"
        )

    async def test_list_of_an_empty_store(self, store: UserStore) -> None:
        assert list(await store.list()) == []

    async def test_list_orders_by_username_and_shows_current_state(self, store: UserStore) -> None:
        for name in ("carol", "ada", "bob"):
            await store.create(_user(name))
        await store.update("bob", _update(disabled=True))
        users = await store.list()
        assert [u.username for u in users] == ["ada", "bob", "carol"]
        assert [u.disabled for u in users] == [False, True, False]

    async def test_list_orders_usernames_by_code_point(self, store: UserStore) -> None:
        names = ["bob", "Zoe", "ada", "Bea", "9lives", "zed"]
        for name in names:
            await store.create(_user(name))
        assert [u.username for u in await store.list()] == sorted(names)

    async def test_concurrent_creates_are_all_kept(self, store: UserStore) -> None:
        await asyncio.gather(*(store.create(_user(f"user{n:02}")) for n in range(30)))
        assert [u.username for u in await store.list()] == [f"user{n:02}" for n in range(30)]

    async def test_stored_users_never_show_their_hash(self, store: UserStore) -> None:
        await store.create(_user(hashed_password="stored-hash-do-not-show"))
        user = await store.get("ada")
        for text in (repr(user), str(user), user.model_dump_json(), repr(await store.list())):
            assert "stored-hash-do-not-show" not in text
        assert "hashed_password" not in user.public().model_dump()

    async def test_admin_flag_and_token_generation_default_and_round_trip(
        self, store: UserStore
    ) -> None:
        from fastapi_issues.auth.users import UserInDB

        created = await store.create(_user())
        assert (created.is_admin, created.token_generation) == (False, 0)
        stored = await store.create(
            UserInDB(
                username="root",
                is_admin=True,
                token_generation=7,
                hashed_password=SecretStr("stored-hash-root"),
            )
        )
        assert await store.get("root") == stored
        assert (stored.is_admin, stored.token_generation) == (True, 7)
        assert stored.public().is_admin is True

    async def test_update_sets_the_admin_flag_and_token_generation_alone(
        self, store: UserStore
    ) -> None:
        await store.create(_user())
        promoted = await store.update("ADA", _update(is_admin=True))
        assert promoted == _user().model_copy(update={"is_admin": True})
        revoked = await store.update("ada", _update(token_generation=1))
        assert revoked == _user().model_copy(update={"is_admin": True, "token_generation": 1})
        assert await store.get("ada") == revoked
        demoted = await store.update("ada", _update(is_admin=False))
        assert (demoted.is_admin, demoted.token_generation) == (False, 1)

    async def test_revoking_tokens_moves_the_generation_on_with_the_other_changes(
        self, store: UserStore
    ) -> None:
        from fastapi_issues.auth.users import revoked_tokens

        user = await store.create(_user())
        changed = await store.update(
            "ada", revoked_tokens(user, hashed_password=SecretStr("stored-hash-2"))
        )
        assert changed.token_generation == 1
        assert changed.hashed_password.get_secret_value() == "stored-hash-2"
        again = await store.update("ada", revoked_tokens(changed, disabled=True))
        assert (again.token_generation, again.disabled) == (2, True)
        assert await store.get("ada") == again
