"""Checking a username and password against the user store, for `POST /token`."""

from __future__ import annotations

import logging

from pydantic import SecretStr

from fastapi_issues.auth.passwords import Passwords
from fastapi_issues.auth.users import (
    AmbiguousUsername,
    UserInDB,
    UserNotFound,
    UserStore,
    UserUpdate,
)
from fastapi_issues.storage.errors import StorageError

__all__ = ["Authenticator"]

_log = logging.getLogger("fastapi_issues.auth")


class Authenticator:
    """Finds the user a username and password belong to.

    Unknown users cost as much time as a wrong password, and a password hashed with
    outdated parameters is re-hashed on the way.
    """

    def __init__(self, user_store: UserStore, passwords: Passwords) -> None:
        self._users = user_store
        self._passwords = passwords

    async def __call__(self, username: str, password: str) -> UserInDB | None:
        """The user, or None when the username or the password is wrong.

        Other user store errors pass through, for the route's error table to answer.
        """
        try:
            user = await self._users.get(username)
        except AmbiguousUsername as exc:
            # Old users whose names collide, and a name that is none of them exactly:
            # picking one would log in as whichever came first. Refused as unknown.
            _log.warning("refused a login: %s; see `fastapi-issues user check`", exc)
            await self._passwords.verify_dummy(password)
            return None
        except UserNotFound:
            await self._passwords.verify_dummy(password)
            return None
        verified, new_hash = await self._passwords.verify_and_update(
            password, user.hashed_password.get_secret_value()
        )
        if not verified:
            return None
        if new_hash is not None:
            await self._store_rehashed(user, new_hash)
        return user

    async def _store_rehashed(self, user: UserInDB, new_hash: str) -> None:
        try:
            # The stored name: the one typed may be another form of it.
            rehashed = UserUpdate(hashed_password=SecretStr(new_hash))
            await self._users.update(user.username, rehashed)
        except StorageError as exc:
            # The login is valid all the same; the next one will try again.
            _log.warning("could not store the re-hashed password of a user: %s", exc)
        else:
            _log.info("re-hashed the password of %r with the current parameters", user.username)
