"""Fixtures of the jobs tests: test job kinds, and the tables their handlers write."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.jobs import registry
from tests.jobs import handlers


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[registry.Registry]:
    """Only what a test registers: other domains' consumers would add jobs of their own."""
    monkeypatch.setattr(registry, "REGISTRY", registry.Registry())
    monkeypatch.setattr(registry, "_loaded", True)
    yield registry.REGISTRY


@pytest.fixture
def kinds() -> Iterator[None]:
    """The test.* job kinds, registered for one test."""
    handlers.unregister()
    handlers.register()
    yield
    handlers.unregister()


@pytest.fixture
def effects(factory: sessionmaker[Session], kinds: None) -> None:
    """The handlers' tables inside the rolled-back test transaction."""
    handlers.META.create_all(factory.kw["bind"])


@pytest.fixture
def live_effects(committing: sessionmaker[Session], engine: Engine,
                 kinds: None) -> Iterator[None]:
    """The handlers' tables for tests with real commits; dropped afterwards."""
    handlers.META.drop_all(engine)
    handlers.META.create_all(engine)
    yield
    handlers.META.drop_all(engine)
