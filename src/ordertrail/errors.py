"""One error hierarchy; the HTTP layer renders it as problem+json, the CLI as one line."""

from __future__ import annotations

from typing import Any

from ordertrail.i18n import Msg, render


class OrdertrailError(Exception):
    """An error a user can act on: a message, an HTTP status and a stable code."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(self, message: str | Msg, *, status: int | None = None, code: str | None = None,
                 **extra: Any) -> None:
        self.msg = message if isinstance(message, Msg) else Msg(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.extra = extra
        super().__init__(self.detail("en"))

    def detail(self, lang: str = "en") -> str:
        return render(self.msg, lang)


class NotFound(OrdertrailError):
    status, code, title = 404, "not_found", "Not found"


class Unauthorized(OrdertrailError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(OrdertrailError):
    status, code, title = 403, "forbidden", "Not allowed"


class Conflict(OrdertrailError):
    status, code, title = 409, "conflict", "Conflict"


class Invalid(OrdertrailError):
    status, code, title = 422, "invalid", "Invalid request"


class TransitionNotAllowed(OrdertrailError):
    """A refusal from the flow planner (403 for roles, 409 for state, 422 for bad targets)."""

    status, code, title = 409, "transition_not_allowed", "Transition not allowed"


class FlowInvalidError(OrdertrailError):
    status, code, title = 422, "flow_invalid", "Invalid flow"
