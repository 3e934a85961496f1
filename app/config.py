"""Settings, read once from the environment (prefix ``SPORTELLO_``) and a ``.env`` file.

A bad value stops the start with one line per bad variable, naming it as the
user wrote it, saying what is expected and how to fix it, with passwords masked
(:func:`get_settings` raises :class:`SettingsError`). An unknown ``SPORTELLO_*``
variable is not an error, but :func:`unknown_variables` names the closest real one.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.domain.access import password_problem
from app.domain.storage_url import S3Location

VAR_DIR = Path("var")
PREFIX = "SPORTELLO_"
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*):[^@/\s]*@")

# The plain URL forms people copy from elsewhere, and the async drivers Sportello runs on.
_DRIVER_ALIASES = (
    ("postgresql://", "postgresql+asyncpg://"),
    ("postgres://", "postgresql+asyncpg://"),
    ("sqlite:///", "sqlite+aiosqlite:///"),
)
_DRIVERS = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


def mask_url(url: str) -> str:
    """``scheme://user:secret@host/db`` -> ``scheme://user:***@host/db``."""
    return _URL_PASSWORD.sub(r"\1:***@", url)


def normalise_database_url(value: str) -> str:
    """Accept the async drivers, map the plain forms onto them, refuse the rest with a fix."""
    value = value.strip()
    if value.startswith(_DRIVERS):
        return value
    for plain, driver in _DRIVER_ALIASES:
        if value.startswith(plain):
            return driver + value[len(plain) :]
    scheme, sep, rest = value.partition("://")
    if sep and scheme.startswith("postgres"):
        raise ValueError(
            "expected a postgresql+asyncpg:// URL (Sportello runs on the asyncpg driver); "
            f"fix: use {mask_url('postgresql+asyncpg://' + rest)}"
        )
    if sep and scheme.startswith("sqlite"):
        raise ValueError(
            "expected a sqlite+aiosqlite:/// URL; "
            f"fix: use {mask_url('sqlite+aiosqlite://' + rest)}"
        )
    raise ValueError(
        "expected sqlite+aiosqlite:///path/to/file.db or "
        "postgresql+asyncpg://user:password@host:5432/db; "
        "fix: use one of those forms (plain postgresql:// and sqlite:/// are accepted too)"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SPORTELLO_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{VAR_DIR / 'sportello.db'}",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_pgbouncer: bool = Field(
        default=False,
        description="The PostgreSQL URL points at PgBouncer in transaction mode: no "
        "prepared-statement cache (run migrations against PostgreSQL itself)",
    )
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
    storage_url: str = Field(
        default="",
        max_length=1000,
        description="s3://bucket/prefix to keep attachments in S3-compatible object storage",
    )
    s3_endpoint_url: str = Field(default="", max_length=1000)
    s3_region: str = Field(default="", max_length=100)
    s3_access_key_id: str = Field(default="", max_length=200)
    s3_secret_access_key: SecretStr = SecretStr("")
    s3_presign_seconds: int = Field(default=0, ge=0, le=7 * 86400)
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

    metrics_token: str = Field(default="", max_length=256)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    allow_macro_documents: bool = False
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Development only: webhooks may call loopback addresses, over plain http too.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Webhooks may call private (RFC 1918, unique-local) addresses over https.",
    )
    webhook_max_redirects: int = Field(default=0, ge=0, le=10)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_retry_base_seconds: float = Field(default=30.0, ge=0, le=86400)
    webhook_retry_cap_seconds: float = Field(default=6 * 3600.0, ge=0, le=7 * 86400)
    webhook_disable_after_failures: int = Field(default=30, ge=1, le=10000)
    webhook_lease_seconds: float = Field(default=120.0, gt=0, le=86400)
    webhook_batch_size: int = Field(default=50, ge=1, le=1000)
    webhook_concurrency: int = Field(default=8, ge=1, le=100)
    webhook_retention_days: int = Field(default=30, ge=1, le=3650)
    semantic_search: bool = Field(
        default=True,
        description="Rank suggestions by meaning too, when the [semantic] extra is installed.",
    )
    embedding_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "CPU threads of one embedding (the draft's, at query time). One by default: beside"
            " the database and the other requests, a second thread costs more CPU than it"
            " saves time (README, 'Semantic suggestions')."
        ),
    )

    import_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    redis_url: str = ""
    rate_limit_enabled: bool = True
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=3600)
    rate_limit_per_user: int = Field(default=600, ge=1, le=1_000_000)
    rate_limit_per_api_key: int = Field(default=1200, ge=1, le=1_000_000)
    rate_limit_per_address: int = Field(default=60, ge=1, le=1_000_000)

    metrics_dir: Path | None = Field(
        default=None,
        description="A folder shared by the API and worker processes of one machine, so "
        "that /metrics adds up across them (Prometheus multiprocess mode)",
    )

    # The portal (issue 10): signed links and where the portal's pages are.
    signing_key: str = Field(default="", description="Secret for signed links (>= 32 chars).")
    signed_url_ttl_seconds: int = Field(default=300, ge=10, le=86400)
    portal_ticket_url: str = Field(
        default="",
        description="The portal's page of a ticket, e.g. https://help.example.com/tickets/{id}",
    )
    public_status_url: str = Field(
        default="",
        description="The public status page, e.g. https://help.example.com/t/{token}",
    )

    inbox_imap_url: str = Field(
        default="",
        description="imaps://user:password@host:993/INBOX, or imap://...?starttls=true; empty: off",
    )
    inbox_imap_oauth2_token: str = ""
    inbox_imap_ca_file: str = Field(
        default="", description="A CA bundle for the IMAP server's certificate (private CAs)"
    )
    inbox_secret: str = Field(
        default="", description="Key of the reply addresses' tokens (support+<token>@...)"
    )
    inbox_unknown_sender: str = Field(default="bounce", pattern="^(bounce|domain)$")
    inbox_trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    inbox_max_tickets_per_hour: int = Field(default=10, ge=1, le=10000)
    inbox_max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    inbox_ticket_type: str = Field(
        default="technical", pattern="^(administrative|commercial|technical|order)$"
    )
    inbox_batch_size: int = Field(default=20, ge=1, le=500)
    mail_attachments_max_bytes: int = Field(default=5 * 1024 * 1024, ge=0)

    @field_validator("cors_origins", "trusted_proxies", "inbox_trusted_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for part in value:
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(
                    f"SPORTELLO_TRUSTED_PROXIES: {part!r} is not an address or a network"
                ) from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("SPORTELLO_REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("admin_password")
    @classmethod
    def _admin_password(cls, value: str) -> str:
        """The first admin's password follows the policy of ``POST /users``."""
        problem = password_problem(value) if value else None
        if problem:
            raise ValueError(f"expected a password that {problem}; fix: choose a longer one")
        return value

    @field_validator("admin_email")
    @classmethod
    def _admin_email(cls, value: str) -> str:
        """The first admin's address is checked as ``POST /users`` checks one."""
        value = value.strip()
        if value:
            try:
                validate_email(value, check_deliverability=False)
            except EmailNotValidError as exc:
                raise ValueError(
                    f"expected an e-mail address such as admin@example.com ({exc}); "
                    "fix: correct the address"
                ) from None
        return value

    @field_validator("mail_from", "support_email")
    @classmethod
    def _address(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        # The desk address may be empty (no mail to a desk); a sender may not.
        if not value and info.field_name == "support_email":
            return value
        if len(value) > 320 or not _ADDRESS.fullmatch(value):
            raise ValueError(
                "expected an e-mail address such as support@example.com; fix: correct the address"
            )
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                S3Location.parse(value)
            except ValueError as exc:
                raise ValueError(
                    f"expected s3://bucket/prefix ({exc}); fix: correct the URL"
                ) from None
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if value and (not value.startswith(("http://", "https://")) or " " in value):
            raise ValueError(
                "expected an http:// or https:// URL such as http://minio:9000; "
                "fix: write the scheme"
            )
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError(
                "expected an http:// or https:// URL such as https://help.example.com; "
                "fix: write the scheme and no spaces"
            )
        return value.rstrip("/")

    @field_validator("signing_key")
    @classmethod
    def _strong_key(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("SPORTELLO_SIGNING_KEY must have at least 32 characters")
        return value

    @field_validator("portal_ticket_url", "public_status_url")
    @classmethod
    def _url_template(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return value
        fields = {"portal_ticket_url": ("{id}", "{number}"), "public_status_url": ("{token}",)}
        name = f"SPORTELLO_{str(info.field_name).upper()}"
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError(f"{name} must be an http:// or https:// URL")
        allowed = fields[str(info.field_name)]
        if not any(part in value for part in allowed):
            raise ValueError(f"{name} must contain {' or '.join(allowed)}")
        leftover = value
        for part in allowed:
            leftover = leftover.replace(part, "")
        if "{" in leftover or "}" in leftover:
            raise ValueError(f"{name} may only use the placeholders {', '.join(allowed)}")
        return value

    @model_validator(mode="after")
    def _sender_for_smtp(self) -> Settings:
        """A mail server needs a sender it accepts: checked at start, not at the first mail."""
        if self.mail_server:
            try:
                validate_email(self.mail_from, check_deliverability=False)
            except EmailNotValidError as exc:
                raise ValueError(
                    f"SPORTELLO_MAIL_FROM={self.mail_from!r}: expected a sender address the "
                    f"mail server accepts ({exc}); fix: set SPORTELLO_MAIL_FROM to an address "
                    "such as help@example.com"
                ) from None
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mail_domain(self) -> str:
        """The domain of our Message-IDs (as ``infra/mail.py: message_id`` writes them)."""
        return self.mail_from.rsplit("@", 1)[-1].strip("<> ").lower() or "localhost"

    @property
    def mail_enabled(self) -> bool:
        return bool(self.mail_server)

    @property
    def mail_mode(self) -> str:
        """How mail leaves, for the start log."""
        if not self.mail_server:
            return "written to the log (no SPORTELLO_MAIL_SERVER)"
        security = "TLS" if self.mail_ssl_tls else "STARTTLS" if self.mail_starttls else "plain"
        return f"SMTP {self.mail_server}:{self.mail_port} ({security})"


class SettingsError(Exception):
    """Bad settings: one line per bad variable, ready to print."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


# Variables read outside the Settings class: known, so never warned about.
OTHER_VARIABLES = frozenset(
    {
        "SPORTELLO_NEW_ADMIN_PASSWORD",  # sportello create-admin
        "SPORTELLO_MAILGATE_KEY",  # sportello mailgate
        "SPORTELLO_MAILGATE_URL",
        "SPORTELLO_TEST_DATABASE_URL",  # the tests and CI
        "SPORTELLO_TEST_REDIS_URL",
        "SPORTELLO_SHOW_RECALL",
        "SPORTELLO_FUZZ_EXAMPLES",
        "SPORTELLO_FUZZ_SEED",
        "SPORTELLO_AUTHZ_PRINT",
        "SPORTELLO_CI_PG_URL",
    }
)

_EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false (or 1/0, yes/no, on/off)",
    "bool_type": "true or false (or 1/0, yes/no, on/off)",
    "literal_error": "one of {expected}",
    "greater_than_equal": "a value of at least {ge}",
    "greater_than": "a value above {gt}",
    "less_than_equal": "a value of at most {le}",
    "less_than": "a value below {lt}",
    "string_too_long": "at most {max_length} characters",
    "string_too_short": "at least {min_length} characters",
    "path_type": "a file system path",
}


def _written_name(field: str, environ: Mapping[str, str]) -> str:
    """The variable as the user wrote it (names are case-insensitive): else the usual form."""
    usual = f"{PREFIX}{field.upper()}"
    for key in environ:
        if key.upper() == usual:
            return key
    return usual


def _shown(field: str, value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    if "password" in field or "secret" in field:
        return "'***'" if text else "''"
    return repr(mask_url(text))


def describe_errors(exc: ValidationError, environ: Mapping[str, str]) -> list[str]:
    """One line per bad variable: name=value: expected ...; fix: ..."""
    lines = []
    for error in exc.errors():
        loc = error.get("loc") or ()
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        if not loc:
            lines.append(message)
            continue
        field = str(loc[0])
        name = _written_name(field, environ)
        shown = _shown(field, error.get("input"))
        if error["type"] == "value_error":
            lines.append(f"{name}={shown}: {message}")
            continue
        template = _EXPECTED.get(error["type"])
        expected = template.format(**(error.get("ctx") or {})) if template else message
        info = Settings.model_fields.get(field)
        default = info.get_default(call_default_factory=True) if info is not None else None
        fix = f"set {name} to {expected}"
        if default not in (None, "", []):
            fix += f", or remove it to use the default ({default})"
        lines.append(f"{name}={shown}: expected {expected}; fix: {fix}")
    return lines


def load_settings(environ: Mapping[str, str] | None = None, **values: Any) -> Settings:
    """Settings from the environment, or :class:`SettingsError` with one line per bad value."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError(
            describe_errors(exc, os.environ if environ is None else environ)
        ) from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``SPORTELLO_*`` variable no setting reads, naming the closest one."""
    known = {f"{PREFIX}{name.upper()}" for name in Settings.model_fields} | OTHER_VARIABLES
    warnings = []
    for key in sorted(environ):
        upper = key.upper()
        if not upper.startswith(PREFIX) or upper in known:
            continue
        close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"unknown setting {key} is ignored{hint}")
    return warnings


@lru_cache
def get_settings() -> Settings:
    return load_settings()
