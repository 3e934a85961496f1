"""What makes the OpenAPI document generate working clients without hand edits.

- every string enum carries ``x-enum-varnames`` (and ``x-enumNames``), so generators name
  its members (``TicketStatus.WAITING_CUSTOMER``) instead of ``VALUE_3``;
- the problem types the API answers with are listed (``ProblemType``, and
  ``x-problem-types`` on the document), so a client can switch on ``type``;
- a multipart ``payload`` part is typed as its JSON model (see ``api/body.py``).
"""

from __future__ import annotations

import re
from typing import Any

from app.api.problems import PROBLEM_JSON, TYPE_BASE
from app.domain import errors

# Problem types raised outside the domain errors (by the handlers and a few routes).
OTHER_SLUGS = (
    "concurrent-change",
    "internal-error",
    "malformed-body",
    "not-ready",
    "range-not-satisfiable",
    "validation-error",
)


def problem_types() -> list[str]:
    slugs: set[str] = set(OTHER_SLUGS)
    pending: list[type[errors.DomainError]] = [errors.DomainError]
    while pending:
        kind = pending.pop()
        slugs.add(kind.slug)
        pending.extend(kind.__subclasses__())
    return ["about:blank", *(TYPE_BASE + slug for slug in sorted(slugs))]


def member_name(value: str) -> str:
    name = re.sub(r"[^0-9A-Za-z]+", "_", value).strip("_").upper()
    if not name:
        return "EMPTY"
    return f"V_{name}" if name[0].isdigit() else name


def _name_enums(node: Any) -> None:
    if isinstance(node, dict):
        values = node.get("enum")
        if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
            names = [member_name(v) for v in values]
            if len(set(names)) == len(names):
                node.setdefault("x-enum-varnames", names)
                node.setdefault("x-enumNames", names)
        for child in node.values():
            _name_enums(child)
    elif isinstance(node, list):
        for child in node:
            _name_enums(child)


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the enum member names and the list of problem types to a generated document."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    types = problem_types()
    components["ProblemType"] = {
        "type": "string",
        "title": "ProblemType",
        "description": f"The `type` of every problem ({PROBLEM_JSON}) this API answers with.",
        "enum": types,
    }
    problem = components.get("Problem", {}).get("properties", {}).get("type")
    if isinstance(problem, dict):
        problem["description"] = "One of the ProblemType values."
    schema["x-problem-types"] = types
    _name_enums(schema)
    return schema
