"""Publishing and loading flows. Published versions are immutable; orders keep theirs."""

from __future__ import annotations

import weakref
from importlib import resources

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from ordertrail.errors import FlowInvalidError, NotFound
from ordertrail.flow import repository as repo
from ordertrail.flow.definition import FlowDef, build_flow
from ordertrail.flow.validate import Problem, check_flow
from ordertrail.i18n import Msg
from ordertrail.kit.clock import Clock
from ordertrail.models import FlowVersion

BUILTIN_FLOWS = ("retail", "make_to_order", "b2b_credit")


def builtin_source(flow_id: str) -> str:
    """The YAML of a built-in flow template."""
    return resources.files("ordertrail.flow.templates").joinpath(f"{flow_id}.yaml").read_text(
        encoding="utf-8")


def validate_source(text: str) -> list[Problem]:
    return check_flow(text)[2]


def publish(session: Session, text: str, clock: Clock, user_id: int | None = None,
            expected_id: str | None = None) -> FlowVersion:
    """Validate a YAML flow and store it as the flow's next version."""
    flow, raw, problems = check_flow(text)
    if problems or flow is None or raw is None:
        raise FlowInvalidError(Msg("The flow has {count} problem(s): {first}",
                                   {"count": len(problems), "first": str(problems[0])}),
                               problems=[p.as_dict() for p in problems])
    if expected_id is not None and flow.id != expected_id:
        raise FlowInvalidError(Msg("The document is flow {got}, not {expected}.",
                                   {"got": flow.id, "expected": expected_id}))
    version = repo.max_version(session, flow.id) + 1
    raw = {**raw, "version": version}
    row = FlowVersion(flow_id=flow.id, version=version, name_en=flow.name.en,
                      name_zh=flow.name.zh, definition=raw, source=text,
                      created_at=clock.now(), created_by=user_id)
    session.add(row)
    session.flush()
    return row


def ensure_builtin_flows(session: Session, clock: Clock) -> list[FlowVersion]:
    """Publish version 1 of each built-in flow that the database does not have yet."""
    created = []
    for flow_id in BUILTIN_FLOWS:
        if repo.latest(session, flow_id) is None:
            created.append(publish(session, builtin_source(flow_id), clock))
    return created


# Flow versions never change once published, so their parsed form is cached per engine
# (per database: test runs create many databases in one process).
_cache: weakref.WeakKeyDictionary[Engine, dict[int, tuple[FlowVersion, FlowDef]]] = (
    weakref.WeakKeyDictionary())


def _engine_cache(session: Session) -> dict[int, tuple[FlowVersion, FlowDef]]:
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _cache.setdefault(engine, {})


def get_version(session: Session, flow_id: str, version: int | None = None) -> FlowVersion:
    """A flow's latest (or a given) version; NotFound naming the known flows."""
    row = (repo.latest(session, flow_id) if version is None
           else repo.by_version(session, flow_id, version))
    if row is None:
        known = [r.flow_id for r in repo.all_latest(session)]
        what = flow_id if version is None else f"{flow_id} version {version}"
        raise NotFound(Msg("Unknown flow {flow}; known flows: {known}.",
                           {"flow": what, "known": known}), code="unknown_flow")
    return row


def latest_definition(session: Session, flow_id: str) -> tuple[FlowVersion, FlowDef]:
    """The latest version of a flow and its FlowDef (one small query; parsing is cached)."""
    version_id = repo.latest_id(session, flow_id)
    if version_id is None:
        get_version(session, flow_id)  # raises NotFound naming the known flows
    assert version_id is not None
    return definition_by_id(session, version_id)


def definition_of(session: Session, row: FlowVersion) -> FlowDef:
    """The FlowDef of a stored version."""
    cache = _engine_cache(session)
    hit = cache.get(row.id)
    if hit is None:
        hit = (row, build_flow(row.definition))
        cache[row.id] = hit
    return hit[1]


def definition_by_id(session: Session, flow_version_id: int) -> tuple[FlowVersion, FlowDef]:
    """A stored version and its FlowDef, read once per process and database."""
    cache = _engine_cache(session)
    hit = cache.get(flow_version_id)
    if hit is None:
        row = repo.by_id(session, flow_version_id)
        if row is None:
            raise NotFound(f"flow version {flow_version_id} does not exist")
        session.expunge(row)
        hit = (row, build_flow(row.definition))
        cache[flow_version_id] = hit
    return hit


def clear_cache() -> None:
    """Forget parsed flows (tests that roll back published versions reuse their ids)."""
    _cache.clear()
