"""One registry of tracking providers: the built-ins plus ``ordertrail.providers`` entry points.

A plugin that fails to import or is not a Provider is reported in ``broken()``; it never
stops ordertrail from starting.
"""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache
from importlib.metadata import entry_points

from ordertrail.carrier.base import Provider

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ordertrail.providers"

# Built-ins are loaded by import path so that a broken one is reported like any plugin.
BUILTIN: dict[str, str] = {
    "kuaidi100": "ordertrail.carrier.kuaidi100.plugin:Kuaidi100",
    "track17": "ordertrail.carrier.track17.plugin:Track17",
    "aftership": "ordertrail.carrier.aftership.plugin:AfterShip",
    "easypost": "ordertrail.carrier.easypost.plugin:EasyPost",
    "generic": "ordertrail.carrier.generic.plugin:Generic",
    "sim": "ordertrail.carrier.sim.plugin:Sim",
}


def _load(target: str) -> type[Provider]:
    module_name, _, attr = target.partition(":")
    obj = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(obj, type) and issubclass(obj, Provider)):
        raise TypeError(f"{target} is not a Provider subclass")
    return obj


@lru_cache(maxsize=1)
def _scan() -> tuple[dict[str, Provider], dict[str, str]]:
    found: dict[str, Provider] = {}
    broken: dict[str, str] = {}
    targets = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)
    for slug, target in targets.items():
        try:
            cls = _load(target)
            found[slug] = cls()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the app
            broken[slug] = f"{type(exc).__name__}: {exc}"
            log.warning("tracking provider %s could not be loaded: %s", slug, exc)
    return found, broken


def providers() -> dict[str, Provider]:
    """Every loaded provider by slug."""
    return dict(_scan()[0])


def get(slug: str) -> Provider | None:
    """The provider with this slug, or None."""
    return _scan()[0].get(slug)


def broken() -> dict[str, str]:
    """Plugins that could not be loaded, with the reason."""
    return dict(_scan()[1])
