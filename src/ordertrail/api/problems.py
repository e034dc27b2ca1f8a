"""Errors as RFC 9457 problem+json: a clear title and detail, never a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ordertrail.errors import OrdertrailError
from ordertrail.i18n import normalize_lang

log = logging.getLogger("ordertrail.api")
PROBLEM = "application/problem+json"
TYPE_BASE = "https://ordertrail.dev/problems/"


def problem(status: int, title: str, detail: str, code: str, instance: str | None = None,
            **extra: Any) -> JSONResponse:
    body = {"type": TYPE_BASE + code.replace("_", "-"), "title": title, "status": status,
            "detail": detail, "code": code}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(json.loads(json.dumps(body, default=str)), status_code=status,
                        media_type=PROBLEM)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if item in ("body", "query", "path", "header") and not parts:
            continue
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(OrdertrailError)
    async def _ordertrail(request: Request, exc: OrdertrailError) -> JSONResponse:
        lang = normalize_lang(request.headers.get("accept-language"))
        return problem(exc.status, exc.title, exc.detail(lang), exc.code, request.url.path,
                       **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        for err in errors:
            if err.get("type") == "json_invalid":
                ctx = err.get("ctx") or {}
                return problem(400, "Malformed JSON", "The request body is not valid JSON: "
                               f"{ctx.get('error', 'parse error')}.", "malformed_json",
                               request.url.path)
        items = []
        for err in errors:
            field = _field(err.get("loc", ()))
            message = err.get("msg", "invalid")
            if err.get("type") == "extra_forbidden":
                message = "unknown field"
            elif err.get("type") == "missing":
                message = "field required"
            items.append({"field": field, "message": message})
        first = items[0] if items else {"field": "body", "message": "invalid"}
        more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
        return problem(422, "Invalid request", f"{first['field']}: {first['message']}{more}",
                       "validation_failed", request.url.path, errors=items)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required"}
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no endpoint at {request.url.path}."
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            allowed = (exc.headers or {}).get("Allow") or "other methods"
            detail = f"{request.url.path} does not accept {request.method}; it accepts {allowed}."
        response = problem(exc.status_code, titles.get(exc.status_code, "Error"), detail,
                           {404: "not_found", 405: "method_not_allowed"}.get(
                               exc.status_code, "http_error"), request.url.path)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "Something went wrong on our side; the change "
                       "was not applied. The server log has the details.", "internal_error",
                       request.url.path)
