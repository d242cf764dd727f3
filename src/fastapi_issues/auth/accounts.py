"""What can happen to an account, once for the CLI, the account routes and the admin routes:
a password change, a log-out everywhere, disabling and enabling, promotion.

Each of the first three moves the user's token generation on (`revoked_tokens`), in the
same update as its other change: every token minted before is then refused, by every
worker, from its next request (the auth dependency reads the user on each).
"""

from __future__ import annotations

from pydantic import SecretStr

from fastapi_issues.auth.passwords import Passwords
from fastapi_issues.auth.users import UserInDB, UserStore, UserUpdate, revoked_tokens

__all__ = ["change_password", "log_out_everywhere", "set_admin", "set_disabled"]


async def change_password(
    users: UserStore, passwords: Passwords, username: str, new_password: str
) -> UserInDB:
    """Store a hash of `new_password` for `username`, and revoke every token of theirs.

    The password is not checked here: see `check_password`.
    """
    hashed = SecretStr(await passwords.hash(new_password))
    user = await users.get(username)
    return await users.update(user.username, revoked_tokens(user, hashed_password=hashed))


async def log_out_everywhere(users: UserStore, username: str) -> UserInDB:
    """Revoke every token of `username`."""
    user = await users.get(username)
    return await users.update(user.username, revoked_tokens(user))


async def set_disabled(users: UserStore, username: str, disabled: bool) -> UserInDB:
    """Disable `username` (revoking their tokens: enabling them again later does not bring
    old tokens back) or enable them."""
    user = await users.get(username)
    if not disabled:
        return await users.update(user.username, UserUpdate(disabled=False))
    return await users.update(user.username, revoked_tokens(user, disabled=True))


async def set_admin(users: UserStore, username: str, is_admin: bool) -> UserInDB:
    """Make `username` an admin, or no longer one. Tokens stay valid: the flag is read from
    the store on every request, so it counts at once either way."""
    user = await users.get(username)
    return await users.update(user.username, UserUpdate(is_admin=is_admin))
