"""Log lines carry the request id; nothing else of the request (no bodies, no headers).

Two formats (``SPORTELLO_LOG_FORMAT``): ``text`` for a terminal, and ``json``, one
JSON object per record on one line (a mail written to the log, with its line
breaks, is still one line), for log collectors.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from app.api.middleware import request_id_var

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "request_id", "message"[, "exception"]}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_handler(fmt: str = "text") -> logging.Handler:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure(level: str, fmt: str = "text") -> None:
    handler = make_handler(fmt)
    root = logging.getLogger("sportello")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    if fmt == "json":
        # uvicorn's own messages (start, stop, errors) in the same one-line format.
        for name in ("uvicorn", "uvicorn.error"):
            server = logging.getLogger(name)
            server.handlers[:] = [handler] if name == "uvicorn" else []
            server.propagate = name != "uvicorn"
    # uvicorn's access log prints raw paths and queries (public-link tokens, searches);
    # Sportello's own (sportello.access) names the route template instead.
    logging.getLogger("uvicorn.access").disabled = True
