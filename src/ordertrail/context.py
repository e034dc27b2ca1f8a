"""What a service call needs besides its arguments: the session, who acts, and the clock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.flow.planner import Actor
from ordertrail.kit.clock import Clock

SYSTEM_ACTOR = Actor(user_id=None, name="system", roles=frozenset({"system"}), source="automation")


@dataclass
class Ctx:
    session: Session
    actor: Actor
    clock: Clock
    settings: Settings
