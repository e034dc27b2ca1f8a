"""HTTP: carrier detection and the list of couriers and providers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from ordertrail.api.deps import AppState, current_actor, get_state
from ordertrail.carrier import detect as detection
from ordertrail.carrier import registry
from ordertrail.carrier.couriers import couriers
from ordertrail.config import credentials
from ordertrail.errors import Invalid
from ordertrail.flow.planner import Actor
from ordertrail.i18n import Msg

router = APIRouter(prefix="/api/v1/carriers", tags=["carriers"])
PROBLEMS = {
    401: {"description": "Missing or unknown API key"},
    422: {"description": "Not a tracking number (empty, too long, stray characters)"},
}


class CandidateRead(BaseModel):
    carrier: str = Field(description="courier slug, as in GET /api/v1/carriers")
    confidence: float = Field(ge=0, le=1)
    checksum_valid: bool | None = Field(
        description="the format's check digit holds (true), fails (false: likely a typo), "
        "or the format has none (null)")
    tracking_url: str | None
    format: str = Field(description="the number format that matched, e.g. sf, ups, s10")


class DetectionRead(BaseModel):
    number: str = Field(description="the number normalised: no spaces or dashes, upper case")
    candidates: list[CandidateRead] = Field(description="best first; empty: no known format")


class CourierRead(BaseModel):
    slug: str
    name: str
    name_zh: str
    country: str | None
    tracking_url: str | None = Field(description="template; %s stands for the number")


class ProviderRead(BaseModel):
    slug: str
    name: str
    name_zh: str
    configured: bool
    can_push: bool
    can_poll: bool


class CarrierList(BaseModel):
    couriers: list[CourierRead]
    providers: list[ProviderRead] = Field(description="tracking sources (plugins)")
    broken: list[str] = Field(description="provider plugins that could not be loaded")


@router.get("/detect", response_model=DetectionRead, responses=PROBLEMS)
async def detect_number(
    number: Annotated[str, Query(min_length=1, max_length=detection.MAX_INPUT,
                                 description="a tracking number; spaces, dashes and case "
                                 "do not matter")],
    _actor: Actor = Depends(current_actor),
) -> DetectionRead:
    """The couriers a tracking number may belong to, best first, with honest confidence."""
    try:
        value = detection.parse(number)
    except detection.InvalidNumber as exc:
        raise Invalid(Msg(exc.template, exc.params), code="invalid_tracking_number") from None
    return DetectionRead.model_validate(detection.detect(value).as_dict())


@router.get("", response_model=CarrierList, responses={401: PROBLEMS[401]})
@router.get("/", response_model=CarrierList, include_in_schema=False)
async def list_carriers(state: AppState = Depends(get_state),
                        _actor: Actor = Depends(current_actor)) -> CarrierList:
    """Known couriers, and the tracking providers with whether they are configured."""
    providers = [
        ProviderRead(slug=slug, name=p.name, name_zh=p.name_zh,
                     configured=all(credentials(state.settings, slug,
                                                p.credential_names).values()),
                     can_push=p.can_push, can_poll=p.can_poll)
        for slug, p in sorted(registry.providers().items())]
    return CarrierList(
        couriers=[CourierRead(slug=c.slug, name=c.name, name_zh=c.name_zh, country=c.country,
                              tracking_url=c.tracking_url) for c in couriers()],
        providers=providers, broken=sorted(registry.broken()))
