"""Flow HTTP endpoints: list, read, validate and publish versions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from ordertrail.api.deps import Reader, Writer, current_actor, reader, writer
from ordertrail.context import Ctx
from ordertrail.errors import Forbidden, Invalid
from ordertrail.flow import repository as repo
from ordertrail.flow import service
from ordertrail.flow.planner import Actor
from ordertrail.flow.schemas import (
    FlowList,
    FlowProblem,
    FlowRead,
    FlowSourceIn,
    FlowSummary,
    FlowValidation,
)
from ordertrail.models import FlowVersion
from ordertrail.order.schemas import Label

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])
PUBLISH_ROLES = ("admin", "manager")
YAML_BODY = {"requestBody": {"content": {
    "application/json": {"schema": FlowSourceIn.model_json_schema()},
    "application/yaml": {"schema": {"type": "string"}},
}, "required": True}}


def _summary(row: FlowVersion) -> FlowSummary:
    return FlowSummary(id=row.flow_id, version=row.version,
                       name=Label(en=row.name_en, zh=row.name_zh),
                       stages=len(row.definition.get("stages", [])), created_at=row.created_at)


async def _source(request: Request) -> str:
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    try:
        if "yaml" in ctype or ctype.startswith("text/"):
            return body.decode("utf-8")
        return FlowSourceIn.model_validate_json(body).source
    except UnicodeDecodeError as exc:
        raise Invalid("the flow must be UTF-8 text", code="bad_encoding") from exc
    except ValueError as exc:
        raise Invalid("send the flow as application/yaml, or as JSON {\"source\": \"<yaml>\"}",
                      code="bad_flow_body") from exc


@router.get("", response_model=FlowList)
async def list_flows(r: Reader = Depends(reader)) -> Response:
    """The latest version of every flow."""
    return await r.run(lambda ctx: FlowList(
        items=[_summary(row) for row in repo.all_latest(ctx.session)]))


@router.get("/{flow_id}", response_model=FlowRead)
async def get_flow(flow_id: str, version: int | None = None,
                   r: Reader = Depends(reader)) -> Response:
    """A flow version (latest by default) with its definition and YAML source."""
    return await r.run(lambda ctx: _flow_read(ctx, flow_id, version))


def _flow_read(ctx: Ctx, flow_id: str, version: int | None) -> FlowRead:
    row = service.get_version(ctx.session, flow_id, version)
    versions = [r.version for r in repo.versions(ctx.session, flow_id)]
    return FlowRead(**_summary(row).model_dump(), versions=versions, definition=row.definition,
                    source=row.source)


@router.post("/validate", response_model=FlowValidation, openapi_extra=YAML_BODY)
async def validate_flow(request: Request,
                        _actor: Actor = Depends(current_actor)) -> FlowValidation:
    """Check a flow without publishing it; problems name their line and stage."""
    problems = await run_in_threadpool(service.validate_source, await _source(request))
    return FlowValidation(valid=not problems,
                          problems=[FlowProblem(**p.as_dict()) for p in problems])


@router.post("/{flow_id}/versions", status_code=201, response_model=FlowRead,
             openapi_extra=YAML_BODY)
async def publish_flow(flow_id: str, request: Request, w: Writer = Depends(writer)) -> Response:
    """Publish the document as the flow's next version; running orders keep theirs."""
    source = await _source(request)
    if not set(PUBLISH_ROLES) & w.actor.roles:
        raise Forbidden(f"publishing flows needs one of {', '.join(PUBLISH_ROLES)}",
                        code="role_not_allowed")

    def run(ctx: Ctx) -> FlowRead:
        row = service.publish(ctx.session, source, ctx.clock, ctx.actor.user_id,
                              expected_id=flow_id)
        versions = [r.version for r in repo.versions(ctx.session, flow_id)]
        return FlowRead(**_summary(row).model_dump(), versions=versions,
                        definition=row.definition, source=row.source)

    return await run_in_threadpool(w.run, run, 201)
