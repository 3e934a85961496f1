"""Unknown query parameters are a 422 naming them, on every API route, checked here once.

A mistyped filter (``?stauts=open``) would otherwise be ignored and answer everything.
The names a route accepts are those of its parameters and its dependencies' parameters,
read once per route from FastAPI's own description of it.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

_ACCEPTED: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _accepted(route: APIRoute) -> frozenset[str]:
    names = _ACCEPTED.get(id(route))
    if names is None:
        names = frozenset(_query_names(route.dependant))
        _ACCEPTED[id(route)] = names
    return names


async def reject_unknown_query(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    accepted = _accepted(route)
    unknown = sorted({name for name in request.query_params if name not in accepted})
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "Unknown query parameter"
                    + (f"; accepted: {', '.join(sorted(accepted))}" if accepted else ""),
                    "type": "extra_forbidden",
                    "input": None,
                }
                for name in unknown[:20]
            ]
        )
