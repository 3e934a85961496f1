"""Log lines carry the request id; nothing else of the request (no bodies, no headers)."""

from __future__ import annotations

import logging

from app.api.middleware import request_id_var


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger("sportello")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # uvicorn's access log prints raw paths and queries (public-link tokens, searches);
    # Sportello's own (sportello.access) names the route template instead.
    logging.getLogger("uvicorn.access").disabled = True
