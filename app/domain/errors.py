"""Domain errors. Services raise these; ``api/problems.py`` turns them into problem details."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """Base of every error a use case may report to its caller."""

    title = "Error"
    slug = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """Missing, or not visible to the caller (the two are never told apart)."""

    title = "Not found"
    slug = "not-found"


class Unauthenticated(DomainError):
    title = "Unauthenticated"
    slug = "unauthenticated"


class Forbidden(DomainError):
    title = "Forbidden"
    slug = "forbidden"


class Conflict(DomainError):
    title = "Conflict"
    slug = "conflict"


class IllegalTransition(Conflict):
    title = "Illegal status change"
    slug = "illegal-transition"

    def __init__(self, detail: str, allowed: Sequence[str]) -> None:
        super().__init__(detail)
        self.allowed = list(allowed)


class PreconditionFailed(DomainError):
    title = "Precondition failed"
    slug = "precondition-failed"


class BadRequest(DomainError):
    title = "Bad request"
    slug = "bad-request"


class InvalidInput(DomainError):
    """A field is well-formed but breaks a rule (e.g. an order of another customer): 422."""

    title = "Invalid input"
    slug = "invalid-input"

    def __init__(self, detail: str, loc: Sequence[str | int] = ()) -> None:
        super().__init__(detail)
        self.loc = list(loc)


class TooManyRequests(DomainError):
    title = "Too many requests"
    slug = "too-many-requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class PayloadTooLarge(DomainError):
    title = "Payload too large"
    slug = "payload-too-large"


class UnsupportedMediaType(DomainError):
    title = "Unsupported media type"
    slug = "unsupported-media-type"


class InsufficientStorage(DomainError):
    """The attachment store cannot take the bytes now (full or read-only): 507, nothing kept."""

    title = "Insufficient storage"
    slug = "insufficient-storage"
