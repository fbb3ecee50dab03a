"""Who is signed in to the console, and what they may do.

- Passwords: argon2id (argon2-cffi), a memory-hard hash; only the hash is stored.
- Sessions: a random token in a cookie (Secure, HttpOnly, SameSite=Lax), signed and
  time-stamped with itsdangerous so a forged or expired cookie is refused before the store
  is asked; the store keeps its sha256 with an expiry, so signing out or disabling someone
  ends it on every replica.
- CSRF: every state-changing request carries a token signed with itsdangerous and bound to
  the session (or, before sign-in, to a random cookie); anything else is refused.
- Sign-in attempts: failures are counted in the store per address and per e-mail over a
  window (every replica sees them); past the limit, sign-in is refused for a while.
- API tokens: random, shown once, stored as sha256; revoked ones are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.errors import UserError
from bot.prompts import message
from bot.store import ROLES, ApiToken, ConsoleRepository, ConsoleUser

logger = logging.getLogger(__name__)

SESSION_COOKIE = "pb_console"
LOGIN_COOKIE = "pb_console_login"  # binds the sign-in form's CSRF token before a session exists
TOKEN_PREFIX = "pbt_"
# Failed sign-ins: at most this many per e-mail (and 4x per address) in the window.
FAILURES_PER_EMAIL = 5
FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)

_hasher = PasswordHasher()  # argon2id with the library's defaults (64 MiB, 3 passes)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may(role: str, needed: str) -> bool:
    """viewer < editor < admin: each may do what the ones before may."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def normal_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class SignedIn:
    """The person behind a request, and the session token (for its CSRF token)."""

    user: ConsoleUser
    session: str

    @property
    def who(self) -> str:
        return f"console:{self.user.email}"


class SignInRefused(UserError):
    def __init__(self, text: str, *, retry_after: int = 0) -> None:
        super().__init__(text)
        self.retry_after = retry_after


class ConsoleAuth:
    """Passwords, sessions, CSRF tokens, sign-in limits and API tokens over the store."""

    def __init__(
        self,
        *,
        repo: ConsoleRepository,
        secret_key: str | None,
        session_hours: float,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.repo = repo
        self.clock = clock or (lambda: datetime.now(UTC))
        key = secret_key or repo.secret("console-signing-key", make=secrets.token_urlsafe(48))
        self.session_seconds = int(session_hours * 3600)
        self._sessions = URLSafeTimedSerializer(key, salt="partnerbot-console-session")
        self._csrf = URLSafeTimedSerializer(key, salt="partnerbot-console-csrf")
        self._state = URLSafeTimedSerializer(key, salt="partnerbot-console-oidc-state")

    # -- people ---------------------------------------------------------------------------
    def add_user(self, email: str, *, role: str, name: str = "", password: str | None) -> bool:
        email = normal_email(email)
        if "@" not in email or len(email) > 254:
            raise UserError(message("console_bad_email", email=email))
        if role not in ROLES:
            raise UserError(message("console_bad_role", role=role, roles=", ".join(ROLES)))
        hashed = hash_password(password) if password else None
        return self.repo.put_user(
            email=email, role=role, name=name, password_hash=hashed, now=self.clock()
        )

    def sign_in(self, email: str, password: str, *, address: str) -> ConsoleUser:
        """The user whose password this is; refused (same message whatever was wrong) or,
        after too many failures, refused for a while."""
        email = normal_email(email)
        keys = [f"email:{email}", f"addr:{address}"]
        since = self.clock() - FAILURE_WINDOW
        if (
            self.repo.failures(keys[0], since=since) >= FAILURES_PER_EMAIL
            or self.repo.failures(keys[1], since=since) >= FAILURES_PER_ADDRESS
        ):
            minutes = int(FAILURE_WINDOW.total_seconds() // 60)
            raise SignInRefused(
                message("console_too_many_attempts", minutes=minutes),
                retry_after=int(FAILURE_WINDOW.total_seconds()),
            )
        user = self.repo.user(email)
        ok = (
            user is not None
            and not user.disabled
            and password_matches(user.password_hash, password)
        )
        if not ok or user is None:
            self.repo.note_failure(keys, now=self.clock())
            logger.info("console sign-in failed for %s from %s", email, address)
            raise SignInRefused(message("console_bad_password"))
        self.repo.clear_failures(keys[0])
        return user

    def user_for_identity(self, email: str) -> ConsoleUser:
        """Someone the identity provider vouched for: only people added to the console."""
        user = self.repo.user(normal_email(email))
        if user is None or user.disabled:
            raise SignInRefused(message("console_not_a_user", email=email))
        return user

    # -- sessions -------------------------------------------------------------------------
    def start_session(self, user: ConsoleUser, *, via: str) -> str:
        """A new session; returns the cookie's value."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self.repo.add_session(
            digest(token),
            email=user.email,
            via=via,
            now=now,
            expires_at=now + timedelta(seconds=self.session_seconds),
        )
        logger.info("console: %s signed in (%s)", user.email, via)
        return self._sessions.dumps(token)

    def signed_in(self, cookie: str | None) -> SignedIn | None:
        if not cookie:
            return None
        try:
            token = self._sessions.loads(cookie, max_age=self.session_seconds)
        except BadSignature:
            return None
        session = self.repo.session(digest(str(token)), now=self.clock())
        if session is None:
            return None
        user = self.repo.user(session.email)
        if user is None or user.disabled:
            return None
        return SignedIn(user, str(token))

    def end_session(self, cookie: str | None) -> None:
        signed = self.signed_in(cookie)
        if signed is not None:
            self.repo.end_session(digest(signed.session))

    # -- CSRF -----------------------------------------------------------------------------
    def csrf_token(self, bound_to: str) -> str:
        """A form token for the session (or sign-in cookie) `bound_to`."""
        return self._csrf.dumps(digest(bound_to)[:32])

    def csrf_ok(self, bound_to: str | None, token: str | None) -> bool:
        if not bound_to or not token:
            return False
        try:
            value = self._csrf.loads(token, max_age=self.session_seconds)
        except BadSignature:
            return False
        return hmac.compare_digest(str(value), digest(bound_to)[:32])

    # -- the identity provider's round trip -----------------------------------------------
    def sign_state(self, data: dict[str, str]) -> str:
        return self._state.dumps(data)

    def read_state(self, value: str | None) -> dict[str, str] | None:
        if not value:
            return None
        try:
            data = self._state.loads(value, max_age=600)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None

    # -- API tokens -----------------------------------------------------------------------
    def new_token(self, name: str, *, who: str) -> tuple[ApiToken, str]:
        """A token for one integration: (its record, the token itself — shown once)."""
        name = " ".join(name.split())[:80]
        if not name:
            raise UserError(message("console_token_needs_name"))
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.repo.add_token(
            name=name, token_hash=digest(plain), prefix=plain[:10], created_by=who, now=self.clock()
        )
        return token, plain

    def token(self, bearer: str | None) -> ApiToken | None:
        """The active token a request's bearer value is; None when unknown or revoked."""
        if not bearer or not bearer.startswith(TOKEN_PREFIX) or len(bearer) > 200:
            return None
        token = self.repo.token(digest(bearer), now=self.clock())
        return token if token is not None and token.active else None
