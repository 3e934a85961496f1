"""Settings, read once from the environment (prefix ``SPORTELLO_``) and a ``.env`` file.

A bad value stops the start with pydantic's message, which names the variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

VAR_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SPORTELLO_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{VAR_DIR / 'sportello.db'}",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    auto_migrate: bool = True
    run_worker: bool = True
    worker_interval_seconds: float = Field(default=5.0, gt=0, le=3600)

    mail_server: str = ""
    mail_port: int = Field(default=25, ge=1, le=65535)
    mail_username: str = ""
    mail_password: str = ""
    mail_starttls: bool = False
    mail_ssl_tls: bool = False
    mail_from: str = "sportello@localhost"
    support_email: str = "support@localhost"
    public_base_url: str = "http://localhost:8000"

    storage_dir: Path = VAR_DIR / "attachments"
    max_attachments: int = Field(default=2, ge=0, le=20)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1)

    admin_email: str = ""
    admin_password: str = ""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    token_ttl_hours: int = Field(default=24 * 7, ge=1, le=24 * 365)
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(default=20, ge=1, le=10000)
    login_window_seconds: int = Field(default=15 * 60, ge=1, le=86400)
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8, le=4 * 1024 * 1024)

    waiting_timeout_days: int = Field(default=14, ge=1, le=365)
    auto_close_days: int = Field(default=7, ge=1, le=365)

    log_level: str = "INFO"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "SPORTELLO_DATABASE_URL must start with sqlite+aiosqlite:// "
                "or postgresql+asyncpg://"
            )
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mail_enabled(self) -> bool:
        return bool(self.mail_server)


@lru_cache
def get_settings() -> Settings:
    return Settings()
