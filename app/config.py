"""Settings, read once from the environment (prefix ``SPORTELLO_``) and a ``.env`` file.

A bad value stops the start with pydantic's message, which names the variable.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

VAR_DIR = Path("var")
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")


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
    satisfaction_days: int = Field(default=14, ge=1, le=365)
    """How long the "How did we do?" link of a resolved ticket stays valid."""
    mail_from_name: str = Field(default="Sportello", max_length=100)
    mail_timeout_seconds: int = Field(default=30, ge=1, le=600)
    mail_max_attempts: int = Field(default=10, ge=1, le=100)
    mail_retry_base_seconds: float = Field(default=30.0, ge=0, le=86400)
    mail_retry_cap_seconds: float = Field(default=3600.0, ge=0, le=7 * 86400)
    mail_lease_seconds: float = Field(default=300.0, gt=0, le=86400)
    mail_batch_size: int = Field(default=50, ge=1, le=1000)
    mail_retention_days: int = Field(default=90, ge=1, le=3650)

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

    @field_validator("mail_from", "support_email")
    @classmethod
    def _address(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        # The desk address may be empty (no mail to a desk); a sender may not.
        if not value and info.field_name == "support_email":
            return value
        if len(value) > 320 or not _ADDRESS.fullmatch(value):
            raise ValueError(f"SPORTELLO_{str(info.field_name).upper()} is not an e-mail address")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError("SPORTELLO_PUBLIC_BASE_URL must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _sender_for_smtp(self) -> Settings:
        """A mail server needs a sender it accepts: checked at start, not at the first mail."""
        if self.mail_server:
            try:
                validate_email(self.mail_from, check_deliverability=False)
            except EmailNotValidError as exc:
                raise ValueError(
                    f"SPORTELLO_MAIL_FROM is not a valid sender address for SMTP: {exc}"
                ) from None
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mail_enabled(self) -> bool:
        return bool(self.mail_server)


@lru_cache
def get_settings() -> Settings:
    return Settings()
