"""Bodies of canned replies (macros) and tags."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from app.api.schemas.common import IdRef, Input, Output, no_control_chars, not_blank
from app.api.schemas.sla import TagName
from app.db.models import (
    Macro,
)
from app.domain.tickets import TicketStatus, Visibility

MacroBody = Annotated[
    str,
    StringConstraints(min_length=1, max_length=20_000),
    AfterValidator(no_control_chars),
    AfterValidator(not_blank),
]
Bodies = Annotated[
    dict[Annotated[str, StringConstraints(pattern=r"^(it|es|en)$")], MacroBody],
    Field(min_length=1, max_length=3),
]
MacroStatus = TicketStatus


class MacroActions(Input):
    set_status: TicketStatus | None = None
    add_tags: Annotated[list[TagName], Field(max_length=10)] = Field(default_factory=list)
    team_id: IdRef | None = None


class MacroIn(Input):
    title: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
        AfterValidator(no_control_chars),
    ]
    bodies: Bodies
    visibility: Visibility = Visibility.PUBLIC
    shared: bool = False
    actions: MacroActions = Field(default_factory=MacroActions)

    def fields(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "bodies": dict(self.bodies),
            "visibility": self.visibility,
            "set_status": self.actions.set_status.value if self.actions.set_status else None,
            "add_tags": list(self.actions.add_tags),
            "team_id": self.actions.team_id,
        }


class MacroUpdate(Input):
    title: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
            AfterValidator(no_control_chars),
        ]
        | None
    ) = None
    bodies: Bodies | None = None
    visibility: Visibility | None = None
    actions: MacroActions | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> MacroUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.title is not None:
            out["title"] = self.title
        if self.bodies is not None:
            out["bodies"] = dict(self.bodies)
        if self.visibility is not None:
            out["visibility"] = self.visibility
        if self.actions is not None:
            out["set_status"] = self.actions.set_status.value if self.actions.set_status else None
            out["add_tags"] = list(self.actions.add_tags)
            out["team_id"] = self.actions.team_id
        return out


class MacroRead(Output):
    id: int
    title: str
    shared: bool
    owner_id: int | None
    bodies: dict[str, str]
    visibility: Visibility
    actions: MacroActions

    @classmethod
    def of(cls, row: Macro) -> MacroRead:
        return cls(
            id=row.id,
            title=row.title,
            shared=row.owner_id is None,
            owner_id=row.owner_id,
            bodies=row.bodies,
            visibility=row.visibility,
            actions=MacroActions(
                set_status=TicketStatus(row.set_status) if row.set_status else None,
                add_tags=row.add_tags,
                team_id=row.team_id,
            ),
        )


class MacroList(Output):
    items: list[MacroRead]


class TagsIn(Input):
    tags: Annotated[list[TagName], Field(min_length=1, max_length=20)]


class TicketTags(Output):
    ticket_id: int
    tags: list[str]


class TagCount(Output):
    name: str
    count: int


class TagList(Output):
    items: list[TagCount]
