"""Signed tracking links: genuine, unforgeable, expiring; a per-install key when unset."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from ordertrail.config import Settings
from ordertrail.models.notify import InstallSecret
from ordertrail.notify import links


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_links_verify_until_they_expire(db, clock, database_url):
    settings = Settings(database_url=database_url, secret_key="k1")
    q = _query(links.tracking_url(db, settings, "SO1", clock.now(), ttl=timedelta(days=1)))
    assert links.verify(db, settings, "SO1", q["e"], q["s"], clock.now())
    assert not links.verify(db, settings, "SO2", q["e"], q["s"], clock.now())
    assert not links.verify(db, settings, "SO1", str(int(q["e"]) + 1), q["s"], clock.now())
    assert not links.verify(db, settings, "SO1", "soon", q["s"], clock.now())
    assert not links.verify(db, settings, "SO1", q["e"], q["s"],
                            clock.now() + timedelta(days=1, seconds=1))
    other = Settings(database_url=database_url, secret_key="k2")
    assert not links.verify(db, other, "SO1", q["e"], q["s"], clock.now())


def test_without_a_secret_key_one_install_key_is_made_and_kept(db, clock, database_url):
    settings = Settings(database_url=database_url)
    url = links.tracking_url(db, settings, "SO1", clock.now())
    assert url.startswith("http://127.0.0.1:8000/track?o=SO1&e=")
    q = _query(url)
    assert links.verify(db, settings, "SO1", q["e"], q["s"], clock.now())
    links.tracking_url(db, settings, "SO2", clock.now())
    assert db.scalar(select(func.count()).select_from(InstallSecret)) == 1
