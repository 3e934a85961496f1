"""Loaded by the schemathesis CLI (``SCHEMATHESIS_HOOKS``): ``POST /inbound/mail`` takes a raw
``message/rfc822`` body, which schemathesis sends like any other binary body."""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("message/rfc822", "application/octet-stream")
