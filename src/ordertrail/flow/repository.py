"""Every query on flow versions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ordertrail.models import FlowVersion


def latest(session: Session, flow_id: str) -> FlowVersion | None:
    stmt = (select(FlowVersion).where(FlowVersion.flow_id == flow_id)
            .order_by(FlowVersion.version.desc()).limit(1))
    return session.scalars(stmt).first()


_LATEST_ID = (select(FlowVersion.id).where(FlowVersion.flow_id == bindparam("flow_id"))
              .order_by(FlowVersion.version.desc()).limit(1))


def latest_id(session: Session, flow_id: str) -> int | None:
    # Built once: every order creation runs it.
    return session.scalar(_LATEST_ID, {"flow_id": flow_id})


def by_version(session: Session, flow_id: str, version: int) -> FlowVersion | None:
    stmt = select(FlowVersion).where(FlowVersion.flow_id == flow_id,
                                     FlowVersion.version == version)
    return session.scalars(stmt).first()


def by_id(session: Session, flow_version_id: int) -> FlowVersion | None:
    return session.get(FlowVersion, flow_version_id)


def max_version(session: Session, flow_id: str) -> int:
    stmt = select(func.max(FlowVersion.version)).where(FlowVersion.flow_id == flow_id)
    return session.scalar(stmt) or 0


def all_latest(session: Session) -> Sequence[FlowVersion]:
    newest = (select(FlowVersion.flow_id, func.max(FlowVersion.version).label("v"))
              .group_by(FlowVersion.flow_id).subquery())
    stmt = (select(FlowVersion)
            .join(newest, (FlowVersion.flow_id == newest.c.flow_id)
                  & (FlowVersion.version == newest.c.v))
            .order_by(FlowVersion.flow_id))
    return session.scalars(stmt).all()


def versions(session: Session, flow_id: str) -> Sequence[FlowVersion]:
    stmt = (select(FlowVersion).where(FlowVersion.flow_id == flow_id)
            .order_by(FlowVersion.version))
    return session.scalars(stmt).all()
