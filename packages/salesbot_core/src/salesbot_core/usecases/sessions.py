"""Signing in and staying signed in: login, refresh-token rotation, logout, and token cleanup."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

import msgspec

from salesbot_core.domain import RefreshToken, Session, User
from salesbot_core.errors import (
    InvalidCredentials,
    InvalidInput,
    InvalidRefreshToken,
    SessionNotFound,
)
from salesbot_core.ports import (
    AccessToken,
    Clock,
    IdSource,
    PasswordHasher,
    TokenIssuer,
    UnitOfWorkFactory,
)
from salesbot_core.tokens import TokenPolicy, hash_refresh_secret, new_refresh_secret
from salesbot_core.validation import PASSWORD_MAX_CHARS, normalise_email

logger = logging.getLogger(__name__)

ROTATED = "rotated"
REUSE_DETECTED = "reuse_detected"
LOGOUT = "logout"
LOGOUT_ALL = "logout_all"

USER_AGENT_MAX_CHARS = 512


class ClientInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who is asking, kept with refresh tokens for audit."""

    user_agent: str | None = None
    ip: str | None = None


class TokenPair(msgspec.Struct, frozen=True, kw_only=True):
    access_token: AccessToken
    refresh_token: str


class LoginResult(msgspec.Struct, frozen=True, kw_only=True):
    tokens: TokenPair
    user: User


def _audit(client: ClientInfo) -> ClientInfo:
    agent = client.user_agent[:USER_AGENT_MAX_CHARS] if client.user_agent else None
    return ClientInfo(user_agent=agent, ip=client.ip)


class Login:
    """Exchange email + password for an access token and a new refresh-token family.

    Rules: an unknown email and a wrong password fail identically (``InvalidCredentials``) and
    cost the same work, because an unknown email is still checked against a real hash. The
    refresh token's secret is returned once and only its SHA-256 is stored.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        issuer: TokenIssuer,
        clock: Clock,
        ids: IdSource,
        policy: TokenPolicy,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._issuer = issuer
        self._clock = clock
        self._ids = ids
        self._policy = policy
        self._decoy_hash: str | None = None

    async def _decoy(self) -> str:
        if self._decoy_hash is None:
            self._decoy_hash = await self._hasher.hash(new_refresh_secret())
        return self._decoy_hash

    async def __call__(
        self, *, email: str, password: str, client: ClientInfo | None = None
    ) -> LoginResult:
        try:
            normalised = normalise_email(email)
        except InvalidInput:
            normalised = None
        user = None
        if normalised is not None:
            async with self._uow() as uow:
                user = await uow.users.get_by_email(normalised)
        # A password no account can have is still checked (against a cut copy, so a huge one
        # costs no more): every failure takes the same path and the same time.
        candidate = (
            password if len(password) <= PASSWORD_MAX_CHARS else password[:PASSWORD_MAX_CHARS]
        )
        possible = len(password) <= PASSWORD_MAX_CHARS
        if user is None:
            await self._hasher.verify(candidate, await self._decoy())
            raise InvalidCredentials
        if not await self._hasher.verify(candidate, user.password_hash) or not possible:
            raise InvalidCredentials
        now = self._clock.now()
        secret = new_refresh_secret()
        audit = _audit(client or ClientInfo())
        token = RefreshToken(
            id=self._ids.new_id(),
            user_id=user.id,
            family_id=self._ids.new_id(),
            token_hash=hash_refresh_secret(secret),
            created_at=now,
            expires_at=now + self._policy.refresh_ttl,
            user_agent=audit.user_agent,
            ip=audit.ip,
        )
        async with self._uow() as uow:
            await uow.refresh_tokens.add(token)
            await uow.commit()
        access = self._issuer.issue(user.id, user.role, now)
        return LoginResult(tokens=TokenPair(access_token=access, refresh_token=secret), user=user)


class RefreshSession:
    """Trade a refresh token for a new access token and a new refresh token (rotation).

    Rules: the presented token must be unrevoked and unexpired; it is revoked as ``rotated`` and
    replaced by a token of the same family with the family's original (absolute) expiry.
    Presenting a token that was already rotated is reuse: the whole family is revoked. Of
    concurrent refreshes of one token exactly one wins. A loser that read the token before the
    winner committed is refused; one that reads it after sees a rotated token, which is reuse,
    and revokes the family: strict reuse detection, as the contract asks (a client must not
    refresh one token twice).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        issuer: TokenIssuer,
        clock: Clock,
        ids: IdSource,
    ) -> None:
        self._uow = uow
        self._issuer = issuer
        self._clock = clock
        self._ids = ids

    async def __call__(self, refresh_token: str, client: ClientInfo | None = None) -> TokenPair:
        now = self._clock.now()
        audit = _audit(client or ClientInfo())
        async with self._uow() as uow:
            current = await uow.refresh_tokens.get_by_hash(hash_refresh_secret(refresh_token))
            if current is None:
                raise InvalidRefreshToken
            if current.revoked_reason == ROTATED:
                await uow.refresh_tokens.revoke_family(current.family_id, REUSE_DETECTED, now)
                await uow.commit()
                raise InvalidRefreshToken
            if not current.is_active(now):
                raise InvalidRefreshToken
            user = await uow.users.get(current.user_id)
            if user is None:
                raise InvalidRefreshToken
            secret = new_refresh_secret()
            successor = RefreshToken(
                id=self._ids.new_id(),
                user_id=current.user_id,
                family_id=current.family_id,
                token_hash=hash_refresh_secret(secret),
                created_at=now,
                expires_at=current.expires_at,
                user_agent=audit.user_agent or current.user_agent,
                ip=audit.ip or current.ip,
            )
            if not await uow.refresh_tokens.rotate(current.id, successor.id, now):
                raise InvalidRefreshToken
            await uow.refresh_tokens.add(successor)
            await uow.commit()
        access = self._issuer.issue(user.id, user.role, now)
        return TokenPair(access_token=access, refresh_token=secret)


class Logout:
    """Revoke one refresh token. Idempotent: an unknown or already revoked token is not an error,
    so logout never tells whether a token existed."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, refresh_token: str) -> None:
        async with self._uow() as uow:
            token = await uow.refresh_tokens.get_by_hash(hash_refresh_secret(refresh_token))
            if token is not None and token.revoked_at is None:
                await uow.refresh_tokens.revoke(token.id, LOGOUT, self._clock.now())
                await uow.commit()


class LogoutAll:
    """Revoke every refresh token of a user (every device signs out within the access TTL)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user_id: UUID) -> int:
        async with self._uow() as uow:
            revoked = await uow.refresh_tokens.revoke_all_for_user(
                user_id, LOGOUT_ALL, self._clock.now()
            )
            await uow.commit()
        return revoked


class CleanupTokens:
    """Delete expired refresh tokens and revoked ones older than the retention (30 days).

    Every instance runs it on a schedule; one running while another process's is under way does
    nothing (and says so in the log), so each stale token is deleted by one of them. Returns
    how many this run deleted."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: TokenPolicy) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy

    async def __call__(self) -> int:
        now = self._clock.now()
        async with self._uow() as uow:
            deleted = await uow.refresh_tokens.delete_stale(
                now, now - self._policy.revoked_retention
            )
            await uow.commit()
        if deleted is None:
            logger.info("refresh-token cleanup skipped: another process is running it")
            return 0
        return deleted


END_SESSION = "session_ended"


class ListSessions:
    """The user's signed-in devices: live refresh-token families, most recently used first."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user_id: UUID) -> Sequence[Session]:
        async with self._uow() as uow:
            return await uow.refresh_tokens.sessions_for_user(user_id, self._clock.now())


class EndSession:
    """Sign one device out: its refresh token stops working (its access token expires within
    the access TTL). Someone else's or an ended session is ``SessionNotFound``."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user_id: UUID, session_id: UUID) -> None:
        async with self._uow() as uow:
            if not await uow.refresh_tokens.revoke_session(
                user_id, session_id, END_SESSION, self._clock.now()
            ):
                raise SessionNotFound
            await uow.commit()
