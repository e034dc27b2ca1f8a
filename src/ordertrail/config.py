"""Settings read from the environment (prefix ``ORDERTRAIL_``)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings; every field can be set as ``ORDERTRAIL_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ORDERTRAIL_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///ordertrail.db",
        description="SQLAlchemy URL; a sqlite file in the working directory by default, "
        "postgresql+psycopg://user@host/db selects PostgreSQL.",
    )
    order_number_pattern: str = Field(
        default="SO{date:%Y%m%d}-{seq:05d}",
        description="Pattern for new order numbers; {date} is the creation day in "
        "`timezone`, {seq} a counter that restarts for every distinct prefix.",
    )
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = 8000
    sql_echo: bool = False

    # Shipment tracking. Credentials are read here (or from carrier account rows), never at
    # import time; a provider whose credentials are missing refuses its pushes and polls.
    public_url: str | None = Field(
        default=None,
        description="Base URL at which carriers reach this server for pushes "
        "(callback URLs); http://<host>:<port> when unset.",
    )
    tracking_provider: str | None = Field(
        default=None,
        description="Provider that tracks new shipments (kuaidi100, track17, sim, ...); "
        "unset: the first configured of kuaidi100 (Chinese couriers), track17, else manual.",
    )
    kuaidi100_key: str | None = None
    kuaidi100_customer: str | None = None
    kuaidi100_salt: str | None = None
    track17_key: str | None = None
    aftership_webhook_secret: str | None = None
    easypost_webhook_secret: str | None = None
    generic_webhook_secret: str | None = None
    sim_url: str | None = Field(default=None, description="Base URL of `ordertrail carriers "
                                "simulate` (the simulated carrier).")
    sim_webhook_secret: str | None = None

    @field_validator("order_number_pattern")
    @classmethod
    def _pattern_renders(cls, value: str) -> str:
        # A bad pattern is refused at startup, not at the first order it fails to number.
        from ordertrail.order.numbering import check_pattern

        check_pattern(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as "
                             "Asia/Shanghai") from None
        return value


def credentials(settings: Settings, slug: str, names: tuple[str, ...]) -> dict[str, str | None]:
    """A provider's credentials from settings: ``<slug>_<name>`` for each name."""
    return {name: getattr(settings, f"{slug}_{name}", None) for name in names}


@lru_cache
def get_settings() -> Settings:
    """Settings of this process (cached)."""
    return Settings()
