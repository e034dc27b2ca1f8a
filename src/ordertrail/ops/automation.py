"""Stage actions (``on_enter`` in a flow stage) and state checks for level-fired triggers.

A flow stage may name actions to run when an order enters it::

    - id: material_check
      on_enter: [reserve_stock, plan_work_orders]

The domains register them here (``@action("reserve_stock")``); the names a flow may use are
``ACTION_NAMES`` (the validator checks them without importing the domains). Actions run in the
worker, on the ``order.stage_changed`` event, in one transaction with their effects.

A trigger is an edge ("the last payment arrived") fired by the domain that saw it, in its own
transaction. An order that reaches a stage *after* the edge (an order already paid when it is
invoiced) would wait forever, so a domain also registers a state check for its trigger
(``@satisfied("payment.fully_paid")``): when an order enters a stage, every trigger it waits
for whose check holds is fired at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # the flow validator imports this module: keep it light
    from ordertrail.context import Ctx

# Every action a flow may name in ``on_enter`` (checked by the flow validator).
ACTION_NAMES: tuple[str, ...] = ("reserve_stock", "plan_work_orders", "issue_invoice")


@dataclass(frozen=True)
class OrderRef:
    id: int
    order_no: str
    stage: str


ActionFn = Callable[["Ctx", OrderRef], None]
CheckFn = Callable[["Ctx", OrderRef], bool]

ACTIONS: dict[str, ActionFn] = {}
CHECKS: dict[str, CheckFn] = {}


def action(name: str) -> Callable[[ActionFn], ActionFn]:
    """Register the stage action ``name`` (one of ``ACTION_NAMES``)."""
    if name not in ACTION_NAMES:
        raise ValueError(f"unknown stage action {name!r}; add it to ACTION_NAMES")

    def register(fn: ActionFn) -> ActionFn:
        ACTIONS[name] = fn
        return fn

    return register


def satisfied(event: str) -> Callable[[CheckFn], CheckFn]:
    """Register the state check behind trigger ``event``: True when the order already
    meets it (then entering a stage that waits for ``event`` fires it at once)."""

    def register(fn: CheckFn) -> CheckFn:
        CHECKS[event] = fn
        return fn

    return register
