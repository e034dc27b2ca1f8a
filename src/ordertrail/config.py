"""Settings read from the environment (prefix ``ORDERTRAIL_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
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


@lru_cache
def get_settings() -> Settings:
    """Settings of this process (cached)."""
    return Settings()
