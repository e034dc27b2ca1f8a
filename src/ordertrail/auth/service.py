"""Users, roles and API keys. Keys are random and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.errors import Conflict, Invalid, NotFound, Unauthorized
from ordertrail.flow.definition import BUILTIN_ROLES
from ordertrail.flow.planner import Actor
from ordertrail.kit.clock import Clock
from ordertrail.models import ApiKey, User

KEY_RE = re.compile(r"^ot_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(session: Session, name: str, roles: list[str], clock: Clock, *,
                display_name: str | None = None, email: str | None = None) -> User:
    """Create a user holding the given built-in roles."""
    if not NAME_RE.match(name):
        raise Invalid(f"user name {name!r} must be 1-64 letters, digits or . _ @ -",
                      code="bad_user_name", field="name")
    if not roles:
        raise Invalid("a user needs at least one role", code="no_roles", field="roles")
    unknown = [r for r in roles if r not in BUILTIN_ROLES]
    if unknown:
        raise Invalid(f"unknown role {unknown[0]!r}; roles are {', '.join(BUILTIN_ROLES)}",
                      code="unknown_role", field="roles")
    if session.scalars(select(User).where(User.name == name)).first() is not None:
        raise Conflict(f"user {name!r} already exists", code="user_exists")
    user = User(name=name, display_name=display_name or name, email=email,
                roles=list(dict.fromkeys(roles)), active=True, created_at=clock.now())
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user {name!r}", code="unknown_user")
    return user


def create_api_key(session: Session, user: User, clock: Clock, label: str | None = None,
                   ) -> tuple[ApiKey, str]:
    """Create a key for a user; the plain key is returned once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(user_id=user.id, prefix=prefix, secret_hash=_hash(secret), label=label,
                 created_at=clock.now())
    session.add(row)
    session.flush()
    return row, f"ot_{prefix}_{secret}"


def revoke_api_key(session: Session, key_or_prefix: str, clock: Clock) -> ApiKey:
    """Revoke a key, named by the key itself or its 12-character prefix."""
    match = KEY_RE.match(key_or_prefix.strip())
    prefix = match.group(1) if match else key_or_prefix.strip()
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if row is None:
        raise NotFound(f"no API key with prefix {prefix!r}", code="unknown_api_key")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
    return row


def deactivate_user(session: Session, name: str) -> User:
    """Deactivate a user: their keys stop working; their history stays."""
    user = get_user(session, name)
    user.active = False
    return user


def authenticate(session: Session, token: str) -> User:
    """The active user owning this key, or Unauthorized."""
    match = KEY_RE.match(token.strip())
    if not match:
        raise Unauthorized("the API key is malformed: expected ot_<prefix>_<secret>",
                           code="bad_api_key")
    prefix, secret = match.groups()
    row = session.execute(
        select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.prefix == prefix)
    ).first()
    if row is None:
        raise Unauthorized("unknown API key", code="bad_api_key")
    key, user = row
    if not hmac.compare_digest(key.secret_hash, _hash(secret)):
        raise Unauthorized("unknown API key", code="bad_api_key")
    if key.revoked_at is not None:
        raise Unauthorized("this API key has been revoked", code="revoked_api_key")
    if not user.active:
        raise Unauthorized(f"user {user.name!r} is deactivated", code="inactive_user")
    return user


def actor_of(user: User, source: str = "api") -> Actor:
    return Actor(user_id=user.id, name=user.name, roles=frozenset(user.roles), source=source)
