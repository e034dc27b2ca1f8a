"""The planner's vocabulary: who asks, what they ask, and what the answer is. Plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ordertrail.i18n import Msg

ADMIN = "admin"
SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    """Who asks: a user (with roles) or the automation."""

    user_id: int | None
    name: str
    roles: frozenset[str]
    source: str = "api"

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


@dataclass(frozen=True)
class Vote:
    level: int
    user_id: int
    decision: str


@dataclass(frozen=True)
class OrderState:
    order_no: str
    stage: str
    status: str  # active, on_hold, completed, cancelled
    facts: Mapping[str, Any]
    votes: tuple[Vote, ...] = ()  # approval votes in the current stage visit
    held_at: datetime | None = None


# Requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advance:
    to: str
    note: str | None = None
    expected_stage: str | None = None


@dataclass(frozen=True)
class Decide:
    decision: str  # approve | reject
    comment: str | None = None


@dataclass(frozen=True)
class Hold:
    note: str | None = None


@dataclass(frozen=True)
class Resume:
    note: str | None = None


@dataclass(frozen=True)
class Cancel:
    note: str | None = None


@dataclass(frozen=True)
class Trigger:
    event: str
    note: str | None = None


Request = Advance | Decide | Hold | Resume | Cancel | Trigger


# Results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One timeline row the plan will write."""

    kind: str
    role: str | None
    from_stage: str | None = None
    to_stage: str | None = None
    note: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    stage: str
    status: str
    entered: tuple[str, ...]  # stages entered, in order (each closes the visit before it)
    events: tuple[Event, ...]
    vote: Vote | None = None
    vote_role: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a request cannot be carried out, in words a user understands."""

    code: str
    status: int  # HTTP status: 403 forbidden by role, 409 state conflict, 422 bad request
    message: Msg
    current_stage: str | None = None


Outcome = Plan | Refusal
