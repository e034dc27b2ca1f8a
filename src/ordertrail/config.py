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

    # Durable jobs, deadlines, notifications and outbound webhooks.
    embedded_worker: bool = Field(
        default=True,
        description="Run the worker inside `serve` and `demo`; turn off when separate "
        "`ordertrail worker` processes run (PostgreSQL).",
    )
    default_locale: str = Field(
        default="zh-CN",
        description="Language of messages to people without their own (zh-CN or en).")
    secret_key: str | None = Field(
        default=None,
        description="Key that signs customer tracking links; unset: a random per-install "
        "key is generated once and kept in the database (table install_secrets).")
    customer_email_url: str | None = Field(
        default=None,
        description="Apprise URL template for customer e-mail, with {email} where the "
        "recipient goes, e.g. mailtos://user:pass@smtp.example.com?to={email}; unset: "
        "customer e-mails are logged as skipped.")
    customer_sms_url: str | None = Field(
        default=None,
        description="Apprise URL template for customer SMS, with {phone}, e.g. "
        "twilio://SID:TOKEN@+15551234567/{phone}; unset: customer SMS are logged as skipped.")
    customer_quiet_hours: str | None = Field(
        default="21:00-08:00",
        description="Local hours (in `timezone`) in which customer messages wait until the "
        "window ends, as HH:MM-HH:MM; empty: send at any hour.")
    tracking_link_days: int = Field(default=30, ge=1,
                                    description="How long a customer tracking link works.")
    supplier_link_days: int = Field(
        default=30, ge=1, description="How long a supplier's purchase-order link works.")
    notify_max_attempts: int = Field(
        default=8, ge=1, description="Failed sends of one notification before it is dead.")
    webhooks_allow_private: bool = Field(
        default=False,
        description="Allow outbound webhook URLs that resolve to loopback, private or "
        "link-local addresses (demo and tests only: refused otherwise against SSRF).",
    )

    @field_validator("order_number_pattern")
    @classmethod
    def _pattern_renders(cls, value: str) -> str:
        # A bad pattern is refused at startup, not at the first order it fails to number.
        from ordertrail.order.numbering import check_pattern

        check_pattern(value)
        return value

    @field_validator("customer_quiet_hours")
    @classmethod
    def _quiet_window(cls, value: str | None) -> str | None:
        if not value:
            return None
        from ordertrail.notify.quiet import parse_window

        parse_window(value)
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
