"""Provider credentials: settings, overridden by ``carrier_accounts`` rows.

Rows are read at most every few seconds per provider, so a push does not pay a query for
its secret; a changed secret takes effect within CACHE_SECONDS.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.carrier.base import Credentials, Provider
from ordertrail.config import Settings, credentials
from ordertrail.errors import Invalid
from ordertrail.i18n import Msg
from ordertrail.models import CarrierAccount

CACHE_SECONDS = 5.0
_cache: dict[tuple[int, str], tuple[float, dict[str, Any] | None]] = {}
_lock = threading.Lock()


def _row(session: Session, slug: str) -> dict[str, Any] | None:
    key = (id(session.get_bind()), slug)
    hit = _cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    row = session.scalars(select(CarrierAccount).where(CarrierAccount.provider == slug,
                                                       CarrierAccount.active)).first()
    value = dict(row.credentials) if row is not None else None
    with _lock:
        _cache[key] = (time.monotonic() + CACHE_SECONDS, value)
    return value


def forget() -> None:
    """Drop cached rows (after a change through the CLI or API, and in tests)."""
    with _lock:
        _cache.clear()


def _with_row(settings: Settings, plugin: Provider, row: dict[str, Any] | None) -> Credentials:
    creds = credentials(settings, plugin.slug, plugin.credential_names)
    if row:
        creds.update({k: v for k, v in row.items() if k in plugin.credential_names and v})
    return creds


def creds_for(session: Session, settings: Settings, plugin: Provider) -> Credentials:
    """The provider's credentials: its settings, with any account row's values on top."""
    return _with_row(settings, plugin, _row(session, plugin.slug))


def cached_creds(factory: sessionmaker[Session], settings: Settings,
                 plugin: Provider) -> Credentials | None:
    """``creds_for`` a session of ``factory`` without a query: None unless the account row
    is cached (then ``creds_for`` reads it)."""
    hit = _cache.get((id(factory.kw.get("bind")), plugin.slug))
    if hit is None or hit[0] <= time.monotonic():
        return None
    return _with_row(settings, plugin, hit[1])


def configured(session: Session, settings: Settings, plugin: Provider) -> bool:
    """Every credential the provider names is set."""
    return all(creds_for(session, settings, plugin).values())


def set_account(session: Session, plugin: Provider, values: dict[str, str],
                now: datetime) -> dict[str, Any]:
    """Store credentials for a provider in its account row (created if missing)."""
    unknown = sorted(set(values) - set(plugin.credential_names))
    if unknown:
        raise Invalid(Msg("{provider} has no credential {names}; it takes {known}.",
                          {"provider": plugin.slug, "names": unknown,
                           "known": list(plugin.credential_names)}),
                      code="unknown_credential")
    row = session.scalars(select(CarrierAccount).where(
        CarrierAccount.provider == plugin.slug)).first()
    if row is None:
        row = CarrierAccount(provider=plugin.slug, credentials={}, active=True,
                             created_at=now, updated_at=now)
        session.add(row)
    row.credentials = {**row.credentials, **values}
    row.updated_at = now
    session.flush()
    forget()
    return dict(row.credentials)
